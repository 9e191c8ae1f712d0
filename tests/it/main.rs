//! The integration tests, in one binary (each module was a test binary of
//! its own once, and each linked the whole crate). They drive the `steward`
//! binary with real processes; `support` holds what they share.
//!
//! The tests run as threads of one process, so none may change what the
//! process shares: no `std::env::set_var`, no current folder, no signal
//! handlers. A test gives a command its environment and folder
//! ([`support::Test`]), signals only processes it started, and names what
//! it creates outside its temp folder with [`support::unique`].
//!
//! Run one module with `cargo test --test it engine_cli::`.

mod support;

mod backup_verify;
mod cli_graph_list;
mod compile_diagnostics;
mod compile_fuzz;
mod engine_audit;
mod engine_cli;
mod engine_dry_run;
mod engine_failure;
mod engine_retry;
mod engine_scheduling;
mod engine_secrets;
mod engine_shell;
mod engine_signals;
mod engine_templates;
mod http_step;
mod junit;
mod library_data;
mod library_deploy;
mod library_incident;
mod notify_step;
mod project_lookup;
mod readme_example;
mod run_control;
mod run_resume;
mod runtime_fields;
mod schema;
mod server_api;
mod server_hooks;
mod server_limits;
mod server_list;
mod server_metrics;
mod server_openapi;
mod server_schedule;
mod server_slack;
mod sql_step;
mod store_cli;
mod store_compat;
mod template_script_params;
mod typed_inputs;
