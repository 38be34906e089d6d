#![doc = include_str!("../ARCHITECTURE.md")]

pub mod ast;
pub mod codes;
pub mod diag;
pub mod parse;
pub mod span;
pub mod check;
pub mod delta;
pub mod ir;
pub mod load;
pub mod types;
pub mod lower;
pub mod engine;
pub mod driver;
pub mod tpch;
pub mod examples;
