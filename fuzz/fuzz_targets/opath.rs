#![no_main]
//! Fuzz target `opath`: see `exorun::fuzzing::opath`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| exorun::fuzzing::opath(data));
