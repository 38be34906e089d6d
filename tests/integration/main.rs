//! The one integration-test binary: every test goes through semc's public entry points.

mod aggregates;
mod analyst;
mod arithmetic;
mod cli;
#[cfg(feature = "cluster")]
mod cluster;
mod corpus;
mod data_files;
#[cfg(feature = "cluster")]
mod double_publishing_scheduler;
mod e2e;
mod extract;
mod features;
mod fixtures;
mod fmt;
mod fuzz;
mod incremental;
mod inspect;
mod join_sides;
mod json;
mod language;
mod lsp;
mod memory;
mod nested;
mod project;
mod props;
mod rewrites;
#[cfg(feature = "cloud")]
mod s3;
mod statistics;
mod up_to_date;
