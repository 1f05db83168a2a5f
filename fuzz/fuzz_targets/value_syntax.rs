#![no_main]
//! Fuzz target `value_syntax`: see `exorun::fuzzing::value_syntax`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| exorun::fuzzing::value_syntax(data));
