#![no_main]
//! libFuzzer entry point; the body is `edgeauth_fuzz::jwt` (fuzz/src/lib.rs).

libfuzzer_sys::fuzz_target!(|data: &[u8]| edgeauth_fuzz::jwt(data));
