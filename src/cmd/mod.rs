//! The commands' bodies; `main.rs` parses the command line and dispatches here.

pub(crate) mod cluster;
pub(crate) mod demo;
pub(crate) mod extract;
pub(crate) mod fmt;
pub(crate) mod functions;
pub(crate) mod init;
pub(crate) mod logging;
pub(crate) mod output;
pub(crate) mod show;
