//! Steward: declarative runbook automation.
//!
//! The modules follow the pipeline: [`spec`] (what a YAML file says) →
//! [`compile`] (validation, `uses` expansion, the DAG) → [`plan`] (what the
//! engine runs) → [`engine`] (scheduling, retries, timeouts) → [`step`] (one
//! module per step kind) → [`audit`] (the tamper-evident event trail).

pub mod audit;
pub mod cli;
pub mod compile;
pub mod config;
pub mod diagnostic;
pub mod engine;
pub mod events;
pub mod inputs;
pub mod plan;
pub mod project;
pub mod render;
pub mod runner;
pub mod schedule;
pub mod secrets;
pub mod server;
pub mod spec;
pub mod step;
pub mod store;
pub mod template;
pub mod trigger;
pub mod webhook;
