#![no_main]
//! Fuzz target `minisign`: see `exorun::fuzzing::minisign`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| exorun::fuzzing::minisign(data));
