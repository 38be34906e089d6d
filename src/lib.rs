#![doc = include_str!("../ARCHITECTURE.md")]

pub mod check;
pub mod codes;
pub mod delta;
pub mod demo;
pub mod diag;
pub mod engine;
pub mod fmt;
pub mod graph;
pub mod ir;
pub mod lower;
pub mod lsp;
pub mod project;
pub mod run;
pub mod span;
pub mod syntax;
pub mod types;
