#![no_main]
//! Fuzz target `gate`: see `exorun::fuzzing::gate`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| exorun::fuzzing::gate(data));
