//! `steward audit verify (RUN | --file F)`

use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};

use crate::audit::chain::verify;

use super::{exit, open_project, print_error};

/// Arguments of `audit`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(Debug, clap::Subcommand)]
enum AuditCommand {
    /// Check a run's audit trail: every event present, unchanged, in order.
    Verify {
        /// A run id (its trail in `.steward/runs/`).
        run: Option<String>,
        /// An audit file (JSON lines) instead.
        #[arg(long, conflicts_with = "run")]
        file: Option<PathBuf>,
    },
}

pub fn run(project_dir: Option<&Path>, args: Args) -> anyhow::Result<u8> {
    let AuditCommand::Verify { run, file } = args.command;
    let path = match (run, file) {
        (_, Some(file)) => file,
        (Some(run), None) => {
            let project = match open_project(project_dir) {
                Ok(p) => p,
                Err(code) => return Ok(code),
            };
            project
                .root
                .join(".steward")
                .join("runs")
                .join(&run)
                .join("audit.jsonl")
        }
        (None, None) => {
            print_error("give a run id or --file FILE", None);
            return Ok(exit::INVALID);
        }
    };
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) => {
            print_error(&format!("can't read {}: {e}", super::shown(&path)), None);
            return Ok(exit::INVALID);
        }
    };
    match verify(BufReader::new(file)) {
        Ok(report) => {
            let last = std::fs::read_to_string(&path)
                .ok()
                .and_then(|t| t.lines().last().map(str::to_owned))
                .and_then(|l| serde_json::from_str::<serde_json::Value>(&l).ok());
            let finished = last
                .as_ref()
                .and_then(|v| v.pointer("/event/event"))
                .and_then(|v| v.as_str())
                == Some("run_finished");
            let mut out = std::io::stdout().lock();
            writeln!(
                out,
                "ok: {} events, chain intact, {} … {}, head {}",
                report.events, report.first_ts, report.last_ts, report.head.hash
            )?;
            if !finished {
                let _ = writeln!(
                    anstream::stderr(),
                    "warning: the trail ends before `run_finished`: the run is still going, was killed, or its end was cut off"
                );
            }
            Ok(exit::OK)
        }
        Err(e) => {
            print_error(
                &format!("{}: {e}", super::shown(&path)),
                Some("the audit trail was changed, reordered or cut"),
            );
            Ok(exit::FAILED)
        }
    }
}
