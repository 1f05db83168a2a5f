#![no_main]
//! Fuzz target `audit_verify`: see `exorun::fuzzing::audit_verify`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| exorun::fuzzing::audit_verify(data));
