//! Steward: declarative runbook automation.
//!
//! The modules are the pipeline, in floors; a module imports only from its
//! own floor or the floors below (a test in `src/floors.rs` keeps it so):
//!
//! 1. vocabulary: [`diagnostic`], [`duration`], [`events`], [`outcome`],
//!    [`retry`], [`secrets`], [`template`], [`chain`], [`config`],
//!    [`schedule`], [`trigger`], [`webhook`]
//! 2. [`syntax`]: reading YAML with positions and every error at once
//! 3. [`kind`]: the step-kind contract
//! 4. [`kinds`]: the step kinds, one folder each, and their table
//! 5. [`spec`]: what a runbook, step template or `steward.yaml` says
//! 6. [`plan`]: what the engine runs
//! 7. [`compile`], [`engine`], [`inputs`]
//! 8. records and renderers: [`audit`], [`store`], [`render`], [`project`]
//! 9. [`host`]: preparing, launching, resuming and serving runs
//! 10. the edges: [`server`], [`cli`]

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
pub mod kinds;
pub mod outcome;
pub mod plan;
pub mod project;
pub mod render;
pub mod retry;
pub mod schedule;
pub mod secrets;
pub mod server;
pub mod spec;
pub mod store;
pub mod syntax;
pub mod template;
pub mod trigger;
pub mod webhook;

#[cfg(test)]
mod floors;
