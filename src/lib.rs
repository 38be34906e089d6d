#![doc = include_str!("../ARCHITECTURE.md")]

pub mod ast;
pub mod check;
pub mod codes;
pub mod delta;
pub mod diag;
pub mod driver;
pub mod engine;
pub mod examples;
pub mod ir;
pub mod load;
pub mod lower;
pub mod parse;
pub mod span;
pub mod tpch;
pub mod types;
