#![no_main]
//! libFuzzer entry point; the body is `edgeauth_fuzz::refresh_token` (fuzz/src/lib.rs).

libfuzzer_sys::fuzz_target!(|data: &[u8]| edgeauth_fuzz::refresh_token(data));
