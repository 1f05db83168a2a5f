#![no_main]
//! Fuzz target `manifest`: see `exorun::fuzzing::manifest`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| exorun::fuzzing::manifest(data));
