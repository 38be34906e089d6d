//! Raw bytes as one `.sem` file: invalid UTF-8, NUL bytes and garbage reach the decoder,
//! text reaches the grammar and the checker.
#![no_main]

mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| common::front_end(data));
