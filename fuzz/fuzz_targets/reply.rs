#![no_main]
//! Fuzz target `reply`: see `exorun::fuzzing::reply`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| exorun::fuzzing::reply(data));
