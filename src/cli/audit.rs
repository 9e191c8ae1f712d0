//! `steward audit verify (RUN | --file F)`, `steward audit export RUN`

use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};

use crate::chain::verify;

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
        /// A run id: its events in the run store, and its file trail in
        /// `.steward/runs/`, which must end at the same event.
        run: Option<String>,
        /// An audit file (JSON lines) instead.
        #[arg(long, conflicts_with = "run")]
        file: Option<PathBuf>,
    },
    /// Print a run's audit trail from the run store, as JSON lines that
    /// `steward audit verify --file` accepts.
    Export {
        /// The run id.
        run: String,
    },
}

pub fn run(project_dir: Option<&Path>, store: Option<&str>, args: Args) -> anyhow::Result<u8> {
    match args.command {
        AuditCommand::Verify {
            run: Some(run),
            file: None,
        } => verify_run(project_dir, store, &run),
        AuditCommand::Verify { run, file } => verify_trail(project_dir, run, file),
        AuditCommand::Export { run } => export(project_dir, store, &run),
    }
}

fn export(project_dir: Option<&Path>, store: Option<&str>, run: &str) -> anyhow::Result<u8> {
    use crate::store::RunStore;
    let (_project, store) = match super::project_store(project_dir, store) {
        Ok(found) => found,
        Err(code) => return Ok(code),
    };
    let lines = match store.audit_lines(run) {
        Ok(lines) => lines,
        Err(e) => {
            print_error(&e.to_string(), None);
            return Ok(exit::FAILED);
        }
    };
    if lines.is_empty() {
        print_error(
            &format!(
                "no audit events of run `{run}` in {}",
                super::shown(store.path())
            ),
            Some("`steward history` lists the stored runs"),
        );
        return Ok(exit::INVALID);
    }
    let text: Vec<&str> = lines.iter().map(|l| l.line.as_str()).collect();
    super::write_stdout(&text.join("\n"))?;
    Ok(exit::OK)
}

/// Checks the store's copy of a run's trail, then the file's, and that both
/// end at the same event (a cut at the end of one shows against the other).
fn verify_run(project_dir: Option<&Path>, store: Option<&str>, run: &str) -> anyhow::Result<u8> {
    use crate::store::RunStore;
    let project = match open_project(project_dir) {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let file = project
        .root
        .join(".steward")
        .join("runs")
        .join(run)
        .join("audit.jsonl");
    // A damaged store must not stop anyone from checking the file trail.
    let read = super::open_store_quietly(&project, store)
        .and_then(|s| s.audit_lines(run).map(|lines| (s, lines)));
    let (store, lines) = match read {
        Ok(found) => found,
        Err(e) => {
            let _ = writeln!(
                anstream::stderr(),
                "warning: {e}; checking the file trail only"
            );
            return verify_trail(project_dir, None, Some(file));
        }
    };
    if lines.is_empty() {
        // Not in this store (another store, or pruned): the file alone.
        return verify_trail(project_dir, None, Some(file));
    }
    let text: String = lines.iter().map(|l| format!("{}\n", l.line)).collect();
    let stored = match verify(text.as_bytes()) {
        Ok(report) => report,
        Err(e) => {
            print_error(
                &format!("run {run} in {}: {e}", super::shown(store.path())),
                Some("the run store's audit events were changed, removed or reordered"),
            );
            return Ok(exit::FAILED);
        }
    };
    let mut where_ = "the run store".to_owned();
    if file.is_file() {
        let on_disk = std::fs::File::open(&file)
            .map_err(|e| e.to_string())
            .and_then(|f| verify(BufReader::new(f)).map_err(|e| e.to_string()));
        match on_disk {
            Ok(report) if report.head == stored.head => {
                where_.push_str(" and the audit file");
            }
            Ok(report) => {
                print_error(
                    &format!(
                        "{} ends at event {} but the run store at event {}",
                        super::shown(&file),
                        report.head.seq,
                        stored.head.seq
                    ),
                    Some("one of the two was cut or replaced"),
                );
                return Ok(exit::FAILED);
            }
            Err(e) => {
                print_error(
                    &format!("{}: {e}", super::shown(&file)),
                    Some("the audit trail was changed, reordered or cut"),
                );
                return Ok(exit::FAILED);
            }
        }
    }
    writeln!(
        std::io::stdout().lock(),
        "ok: {} events, chain intact in {where_}, {} … {}, head {}",
        stored.events,
        stored.first_ts,
        stored.last_ts,
        stored.head.hash
    )?;
    Ok(exit::OK)
}

fn verify_trail(
    project_dir: Option<&Path>,
    run: Option<String>,
    file: Option<PathBuf>,
) -> anyhow::Result<u8> {
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
