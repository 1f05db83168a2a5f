#![no_main]
//! Fuzz target `artifact`: see `exorun::fuzzing::artifact`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| exorun::fuzzing::artifact(data));
