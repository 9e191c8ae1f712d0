//! Step kinds, one module per YAML key.
pub mod shell;
