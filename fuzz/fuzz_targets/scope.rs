#![no_main]
//! Fuzz target `scope`: see `exorun::fuzzing::scope`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| exorun::fuzzing::scope(data));
