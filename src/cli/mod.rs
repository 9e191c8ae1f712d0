//! The command line: one file per subcommand.

mod audit;
mod dry_run;
mod graph;
mod list;
mod run;
mod schema;
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
}

impl Cli {
    /// Runs the command; returns the process exit code.
    pub fn run(self) -> anyhow::Result<ExitCode> {
        let code = match self.command {
            Command::Run(args) => run::run(self.project.as_deref(), args)?,
            Command::Audit(args) => audit::run(self.project.as_deref(), args)?,
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
            let _ = write!(err, "{}", headline(&d));
        }
    }
}

fn headline(d: &Diagnostic) -> String {
    use anstyle::{AnsiColor, Style};
    let red = Style::new().fg_color(Some(AnsiColor::Red.into())).bold();
    let mut s = format!(
        "{}error{}: {}\n",
        red.render(),
        red.render_reset(),
        d.message
    );
    if let Some(h) = &d.hint {
        s.push_str(&format!("hint: {h}\n"));
    }
    s
}

/// Prints a one-line error to stderr.
pub(crate) fn print_error(message: &str, hint: Option<&str>) {
    let mut d = Diagnostic::whole_file(message);
    d.hint = hint.map(str::to_owned);
    let _ = write!(anstream::stderr().lock(), "{}", headline(&d));
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
    match plan {
        Some(plan) => Ok(plan),
        None => {
            let n = print_reports([&report]);
            print_error(
                &format!("{} is invalid ({n} {})", report.path, plural(n, "problem")),
                None,
            );
            Err(exit::INVALID)
        }
    }
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
