#![doc = include_str!("../ARCHITECTURE.md")]

pub mod ast;
pub mod codes;
pub mod diag;
pub mod parse;
pub mod span;
