#![no_main]
//! Fuzz target `policy`: see `exorun::fuzzing::policy`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| exorun::fuzzing::policy(data));
