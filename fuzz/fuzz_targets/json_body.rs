#![no_main]
//! libFuzzer entry point; the body is `edgeauth_fuzz::json_body` (fuzz/src/lib.rs).

libfuzzer_sys::fuzz_target!(|data: &[u8]| edgeauth_fuzz::json_body(data));
