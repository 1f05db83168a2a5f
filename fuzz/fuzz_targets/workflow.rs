#![no_main]
//! Fuzz target `workflow`: see `exorun::fuzzing::workflow`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| exorun::fuzzing::workflow(data));
