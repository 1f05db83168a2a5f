#![no_main]
//! Fuzz target `journal`: see `exorun::fuzzing::journal`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| exorun::fuzzing::journal(data));
