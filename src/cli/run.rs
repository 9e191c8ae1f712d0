//! `steward run RUNBOOK [-i KEY=VALUE]... [--output text|json] [--dry-run]
//! [--yes] [--junit FILE]`

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::engine::{self, Cancel, RunRequest};
use crate::events::EventSink;
use crate::host::{self, Launch, Lookup, PrepareError, Request, Runner};
use crate::inputs::RawInput;
use crate::outcome::RunStatus;
use crate::render::{Live, Plain};

use super::console::Terminal;
use super::{exit, open_project, open_store, print_error, print_invalid, print_project_error};

/// Arguments of `run`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A runbook name (from `runbooks/`) or a path to a YAML file.
    runbook: String,
    /// An input, `name=value`; repeat for several.
    #[arg(short = 'i', long = "input", value_name = "NAME=VALUE")]
    inputs: Vec<String>,
    /// `text` (default): progress on stderr, outputs on stdout; `json`: one
    /// JSON document with every step on stdout at the end.
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    output: String,
    /// Show what would run, rendered, step by step; run nothing.
    #[arg(long)]
    dry_run: bool,
    /// A file of `NAME=value` secrets (mode 600); default: `secrets_file`
    /// of steward.yaml. The environment wins over the file.
    #[arg(long, env = "STEWARD_SECRETS_FILE", value_name = "FILE")]
    secrets_file: Option<PathBuf>,
    /// Approve every `approval` step in advance; recorded in the audit
    /// trail as pre-approved by you.
    #[arg(long, short = 'y')]
    yes: bool,
    /// Also write the run as JUnit XML to FILE, one test case per step, for
    /// CI test reports; written whatever the run's status.
    #[arg(long, value_name = "FILE", conflicts_with = "dry_run")]
    junit: Option<PathBuf>,
}

pub fn run(project_dir: Option<&Path>, store: Option<&str>, args: Args) -> anyhow::Result<u8> {
    let project = match open_project(project_dir) {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let secrets_file = args.secrets_file.clone().or_else(|| {
        project
            .config
            .secrets_file
            .as_ref()
            .map(|f| project.root.join(f))
    });
    let trigger = crate::trigger::detect(|k| std::env::var(k).ok());
    let mut request =
        Request::new(&args.runbook, Lookup::NameOrPath, trigger).secrets_file(secrets_file.clone());
    for pair in &args.inputs {
        match pair.split_once('=') {
            Some((name, value)) => {
                request
                    .inputs
                    .insert(name.trim().to_owned(), RawInput::Text(value.to_owned()));
            }
            None => request
                .unreadable
                .push(format!("`-i {pair}` is not NAME=VALUE")),
        }
    }
    let prepared = match host::prepare(&project, request) {
        Ok(p) => p,
        Err(e) => return Ok(refused(&e)),
    };

    if args.dry_run {
        let request = RunRequest {
            plan: prepared.plan.clone(),
            inputs: prepared.inputs,
            secrets: prepared.secrets,
            trigger: prepared.trigger,
            workdir: project.root.clone(),
            run_id: prepared.run_id,
            control: Arc::new(crate::kind::Standalone),
            parent: None,
            resume: None,
        };
        let dry = engine::dry_run(&request);
        if args.output == "json" {
            super::write_stdout(&serde_json::to_string_pretty(&dry)?)?;
        } else {
            super::dry_run::print(&dry);
        }
        return Ok(exit::OK);
    }

    // The store first: a run that can't be recorded does not start.
    let store = match open_store(&project, store) {
        Ok(s) => Arc::new(s),
        Err(code) => return Ok(code),
    };
    let options = host::Options {
        yes: args.yes,
        secrets_file,
    };
    let store_path = store.path().to_path_buf();
    let console = Arc::new(Terminal {
        ask: args.output == "text",
    });
    let runner = Runner::new(
        project,
        store,
        store_path,
        prepared.trigger.clone(),
        options,
        console,
    );
    let launch = prepared.launch(display(&args.output));
    host(&runner, launch, &args.output, args.junit.as_deref())
}

/// Says why the run was not prepared; the exit code.
fn refused(e: &PrepareError) -> u8 {
    match e {
        PrepareError::Project(e) => print_project_error(e),
        PrepareError::UnknownRunbook { .. } => print_error(&e.to_string(), None),
        PrepareError::Invalid { report, .. } => print_invalid(report),
        PrepareError::Refused { problems, .. } => {
            for p in problems {
                print_error(&p.to_string(), None);
            }
            let hint = format!(
                "{} problem(s), nothing was run; give inputs as `-i NAME=VALUE`, and `steward list` shows them",
                problems.len()
            );
            let _ = writeln!(anstream::stderr(), "hint: {hint}");
        }
    }
    exit::INVALID
}

/// Where progress goes: the live view on a terminal, plain lines elsewhere
/// (with GitHub Actions groups and annotations there).
pub(super) fn display(output: &str) -> Box<dyn EventSink> {
    let github = std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true");
    if std::io::stderr().is_terminal() && output == "text" && !github {
        Box::new(Live::default())
    } else {
        Box::new(Plain::new(github))
    }
}

/// Runs a launch to its end on a new runtime, with signal handling; prints
/// the outputs (or the JSON report) and returns the exit code.
pub(super) fn host(
    runner: &Arc<Runner>,
    launch: Launch,
    output: &str,
    junit: Option<&Path>,
) -> anyhow::Result<u8> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let finished = runtime.block_on(async {
        let cancel = Cancel::default();
        tokio::spawn(watch_signals(cancel.clone()));
        runner.launch(launch, cancel).await
    });
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    let finished = match finished {
        Ok(f) => f,
        Err(e) => {
            print_error(&e.to_string(), None);
            return Ok(exit::FAILED);
        }
    };
    for problem in &finished.problems {
        print_error(problem, None);
    }
    let report = &finished.report;
    // Before the outputs, so a closed stdout does not cost CI its report.
    let junit_written = match junit {
        Some(path) => match crate::render::junit::write(report, path) {
            Ok(()) => true,
            Err(e) => {
                print_error(
                    &format!("can't write the JUnit report {}: {e}", super::shown(path)),
                    None,
                );
                false
            }
        },
        None => true,
    };
    if output == "json" {
        super::write_stdout(&serde_json::to_string_pretty(report)?)?;
    } else {
        let mut out = std::io::stdout().lock();
        if let serde_json::Value::Object(outputs) = &report.outcome.outputs {
            for (k, v) in outputs {
                let shown = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                writeln!(out, "{k}={shown}")?;
            }
        }
        let _ = writeln!(
            anstream::stderr(),
            "audit trail: {}",
            super::shown(&finished.audit_path)
        );
    }
    Ok(match report.outcome.status {
        RunStatus::Succeeded if !junit_written => exit::FAILED,
        RunStatus::Succeeded => exit::OK,
        RunStatus::Cancelled | RunStatus::TimedOut => exit::CANCELLED,
        _ => exit::FAILED,
    })
}

/// First SIGINT/SIGTERM: stop the steps, run `finally`. Second: stop all.
async fn watch_signals(cancel: Cancel) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return;
    };
    for token in [&cancel.run, &cancel.all] {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        let _ = writeln!(anstream::stderr(), "stopping…");
        token.cancel();
    }
}
