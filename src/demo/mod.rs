//! `semc demo`: TPC-H generated as Delta tables and the example workspaces that read them.

pub mod examples;
pub mod tpch;
