//! The command line: one file per subcommand.

mod approve;
mod audit;
mod console;
mod dry_run;
mod graph;
mod history;
pub(crate) mod list;
mod logs;
mod prune;
mod resume;
mod run;
mod schema;
mod serve;
mod show;
mod validate;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::diagnostic::Diagnostic;
use crate::project::{FileReport, Project, ProjectError};

/// Exit codes shared by every command.
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// The run failed.
    pub const FAILED: u8 = 1;
    /// Invalid runbook, inputs or usage.
    pub const INVALID: u8 = 2;
    /// Cancelled or timed out.
    pub const CANCELLED: u8 = 3;
}

/// Declarative runbook automation.
#[derive(Debug, Parser)]
#[command(name = "steward", version, about, long_about = None)]
pub struct Cli {
    /// The project folder (default: the nearest folder upwards with
    /// `steward.yaml` or `runbooks/`).
    #[arg(long, global = true, env = "STEWARD_PROJECT", value_name = "DIR")]
    pub project: Option<PathBuf>,
    /// The run store: a SQLite file path or `sqlite://PATH` (default:
    /// `.steward/steward.db` in the project). A URL takes options:
    /// `sqlite://PATH?synchronous=off|normal|full` (default normal; off
    /// never fsyncs, for measurements and throwaway environments).
    #[arg(long, global = true, env = "STEWARD_STORE", value_name = "URL")]
    pub store: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a runbook.
    Run(run::Args),
    /// Check runbooks and step templates; with no path, all of the project's.
    Validate(validate::Args),
    /// Print a runbook's compiled DAG.
    Graph(graph::Args),
    /// List the project's runbooks with their inputs and triggers.
    List(list::Args),
    /// Check or export audit trails.
    Audit(audit::Args),
    /// Print the JSON Schema of runbook (or step template) files.
    Schema(schema::Args),
    /// List stored runs, newest first.
    History(history::Args),
    /// Show a stored run and its steps.
    Show(show::Args),
    /// Print a stored run's output lines.
    Logs(logs::Args),
    /// Delete stored runs (and their run folders) older than a duration.
    Prune(prune::Args),
    /// Continue a run whose process died (`interrupted` in history).
    Resume(resume::Args),
    /// Approve a waiting `approval` step.
    Approve(approve::Args),
    /// Reject a waiting `approval` step (the step fails).
    Reject(approve::Args),
    /// Serve the HTTP API (`/api/v1`) for CI and chat-ops.
    Serve(serve::Args),
}

impl Cli {
    /// Runs the command; returns the process exit code.
    pub fn run(self) -> anyhow::Result<ExitCode> {
        let store = self.store.as_deref();
        let code = match self.command {
            Command::Run(args) => run::run(self.project.as_deref(), store, args)?,
            Command::Audit(args) => audit::run(self.project.as_deref(), store, args)?,
            Command::History(args) => history::run(self.project.as_deref(), store, args)?,
            Command::Show(args) => show::run(self.project.as_deref(), store, args)?,
            Command::Logs(args) => logs::run(self.project.as_deref(), store, args)?,
            Command::Prune(args) => prune::run(self.project.as_deref(), store, args)?,
            Command::Resume(args) => resume::run(self.project.as_deref(), store, args)?,
            Command::Approve(args) => approve::run(self.project.as_deref(), store, args, true)?,
            Command::Reject(args) => approve::run(self.project.as_deref(), store, args, false)?,
            Command::Serve(args) => serve::run(self.project.as_deref(), store, args)?,
            Command::Validate(args) => validate::run(self.project.as_deref(), args)?,
            Command::Graph(args) => graph::run(self.project.as_deref(), args)?,
            Command::List(args) => list::run(self.project.as_deref(), args)?,
            Command::Schema(args) => schema::run(args)?,
        };
        Ok(ExitCode::from(code))
    }
}

/// Prints every diagnostic of every report to stderr; returns how many.
pub(crate) fn print_reports<'a>(reports: impl IntoIterator<Item = &'a FileReport>) -> usize {
    let mut count = 0;
    let mut err = anstream::stderr().lock();
    for report in reports {
        let lines: Vec<&str> = report.text.lines().collect();
        for d in &report.diagnostics {
            let _ = writeln!(err, "{}", d.render_lines(&report.path, &lines, true));
            count += 1;
        }
    }
    count
}

/// Prints a project error; diagnostics of an invalid `steward.yaml` in full.
pub(crate) fn print_project_error(error: &ProjectError) {
    let mut err = anstream::stderr().lock();
    match error {
        ProjectError::Config {
            path,
            text,
            diagnostics,
        } => {
            for d in diagnostics {
                let _ = writeln!(err, "{}", d.render(path, text, true));
            }
        }
        other => {
            let d = Diagnostic::whole_file(other.to_string());
            let _ = write!(err, "{}", d.headline());
        }
    }
}

/// Prints a one-line error to stderr.
pub(crate) fn print_error(message: &str, hint: Option<&str>) {
    let mut d = Diagnostic::whole_file(message);
    d.hint = hint.map(str::to_owned);
    let _ = write!(anstream::stderr().lock(), "{}", d.headline());
}

/// The project, or the exit code after printing why there is none.
pub(crate) fn open_project(dir: Option<&std::path::Path>) -> Result<Project, u8> {
    Project::discover(dir).map_err(|e| {
        print_project_error(&e);
        if matches!(e, ProjectError::NotFound(..)) {
            print_error_hint(
                "run inside a project (a folder with `runbooks/`), or pass --project DIR",
            );
        }
        exit::INVALID
    })
}

fn print_error_hint(hint: &str) {
    let _ = writeln!(anstream::stderr().lock(), "hint: {hint}");
}

/// Opens the run store (`--store`, or steward.yaml's `store`, or the
/// project's default).
pub(crate) fn open_store_quietly(
    project: &Project,
    spec: Option<&str>,
) -> Result<crate::store::SqliteStore, crate::store::StoreError> {
    // steward.yaml's store is relative to the project, not to the folder
    // steward runs in.
    let configured = project
        .config
        .store
        .as_deref()
        .map(|s| match s.split_once("://") {
            Some(_) => s.to_owned(),
            None => project.root.join(s).display().to_string(),
        });
    crate::store::open(&project.root, spec.or(configured.as_deref()))
}

/// Opens the run store, or the exit code after printing why it can't be.
pub(crate) fn open_store(
    project: &Project,
    spec: Option<&str>,
) -> Result<crate::store::SqliteStore, u8> {
    use crate::store::StoreError;
    open_store_quietly(project, spec).map_err(|e| {
        let hint = match &e {
            StoreError::Corrupt { .. } => {
                Some("move the file aside to start a new store, or pass --store PATH")
            }
            StoreError::Locked { .. } => Some("another steward holds it; try again"),
            _ => None,
        };
        print_error(&e.to_string(), hint);
        match e {
            StoreError::Unsupported(_) | StoreError::BadOption { .. } => exit::INVALID,
            _ => exit::FAILED,
        }
    })
}

/// The project and its run store, or the exit code after saying why not.
pub(crate) fn project_store(
    dir: Option<&std::path::Path>,
    spec: Option<&str>,
) -> Result<(Project, crate::store::SqliteStore), u8> {
    let project = open_project(dir)?;
    let store = open_store(&project, spec)?;
    Ok((project, store))
}

/// What the store holds of run `run`, or the exit code after saying why
/// not: 2 when there is no such run, 1 when the store failed.
pub(crate) fn stored<T>(
    store: &crate::store::SqliteStore,
    run: &str,
    found: Result<Option<T>, crate::store::StoreError>,
) -> Result<T, u8> {
    match found {
        Ok(Some(value)) => Ok(value),
        Ok(None) => {
            print_error(
                &format!("no run `{run}` in {}", shown(store.path())),
                Some("`steward history` lists the stored runs"),
            );
            Err(exit::INVALID)
        }
        Err(e) => {
            print_error(&e.to_string(), None);
            Err(exit::FAILED)
        }
    }
}

/// Loads and compiles a runbook by name or path, printing diagnostics.
pub(crate) fn load_plan(project: &Project, runbook: &str) -> Result<crate::plan::Plan, u8> {
    let path = project.find_runbook(runbook).map_err(|e| {
        print_project_error(&e);
        exit::INVALID
    })?;
    let (library, _) = project.library().map_err(|e| {
        print_project_error(&e);
        exit::INVALID
    })?;
    let (report, plan) = project.compile_file(&path, &library).map_err(|e| {
        print_project_error(&e);
        exit::INVALID
    })?;
    plan.ok_or_else(|| {
        print_invalid(&report);
        exit::INVALID
    })
}

/// Prints an invalid runbook's diagnostics and how many there are.
pub(crate) fn print_invalid(report: &FileReport) {
    let n = print_reports([report]);
    print_error(
        &format!("{} is invalid ({n} {})", report.path, plural(n, "problem")),
        None,
    );
}

pub(crate) fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        word.to_owned()
    } else {
        format!("{word}s")
    }
}

pub(crate) fn shown(path: &std::path::Path) -> String {
    crate::project::display(path)
}

/// Writes data to stdout; a reader that went away (`| head`) ends the output
/// quietly instead of failing.
pub(crate) fn write_stdout(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}
