//! The engine: scheduling, retries, timeouts, cancellation.

pub mod retry;
