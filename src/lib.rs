//! Steward: declarative runbook automation.
//!
//! The modules are the pipeline, in floors; a module imports only from its
//! own floor or the floors below (a test in `src/floors.rs` keeps it so):
//!
//! 1. vocabulary: [`diagnostic`], [`duration`], [`events`], [`outcome`],
//!    [`retry`], [`secrets`], [`template`], [`chain`], [`config`],
//!    [`schedule`], [`trigger`], [`webhook`]
//! 2. [`spec`]: what a YAML file says
//! 3. [`kind`]: the step-kind contract
//! 4. [`plan`]: what the engine runs
//! 5. [`compile`], [`engine`], [`inputs`], [`step`] (one module per kind)
//! 6. records and renderers: [`audit`], [`store`], [`render`], [`project`]
//! 7. [`host`]: preparing, launching, resuming and serving runs
//! 8. the edges: [`server`], [`cli`]

pub mod audit;
pub mod chain;
pub mod cli;
pub mod compile;
pub mod config;
pub mod diagnostic;
pub mod duration;
pub mod engine;
pub mod events;
pub mod host;
pub mod inputs;
pub mod kind;
pub mod outcome;
pub mod plan;
pub mod project;
pub mod render;
pub mod retry;
pub mod schedule;
pub mod secrets;
pub mod server;
pub mod spec;
pub mod step;
pub mod store;
pub mod template;
pub mod trigger;
pub mod webhook;

#[cfg(test)]
mod floors;
