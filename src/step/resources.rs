//! Resources shared by the steps of one run (connection pools and the
//! like), created on first use and dropped with the run.

/// Per-run resources, one field per step kind that needs one.
#[derive(Default)]
pub struct Resources {}
