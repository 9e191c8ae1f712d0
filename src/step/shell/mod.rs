//! The `shell` step kind.

pub mod process;
