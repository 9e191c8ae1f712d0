//! The integration tests, in one binary: each module was its own test
//! binary once, and each of those linked the whole crate. They drive the
//! `steward` binary with real processes; `support` holds what they share.

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
