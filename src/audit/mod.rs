//! The audit trail: hash-chained JSON lines.

pub mod chain;
