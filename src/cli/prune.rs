//! `steward prune --older-than 30d`

use std::path::Path;

use crate::store::RunStore;

use super::{exit, print_error};

/// Arguments of `prune`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Delete the runs that started longer ago than this (`30d`, `12h`) and
    /// are no longer running: their records and `.steward/runs/<id>/`.
    #[arg(long, value_name = "DURATION", value_parser = crate::duration::parse)]
    older_than: std::time::Duration,
}

pub fn run(project_dir: Option<&Path>, store: Option<&str>, args: Args) -> anyhow::Result<u8> {
    let (project, store) = match super::project_store(project_dir, store) {
        Ok(found) => found,
        Err(code) => return Ok(code),
    };
    let pruned = match store.prune(args.older_than) {
        Ok(ids) => ids,
        Err(e) => {
            print_error(&e.to_string(), None);
            return Ok(exit::FAILED);
        }
    };
    let runs = project.root.join(".steward").join("runs");
    let mut code = exit::OK;
    // Ids come from the database: only plain names become paths.
    let plain = |id: &&String| id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    for id in pruned.iter().filter(plain) {
        let dir = runs.join(id);
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                print_error(&format!("can't remove {}: {e}", super::shown(&dir)), None);
                code = exit::FAILED;
            }
            _ => {}
        }
    }
    super::write_stdout(&format!(
        "pruned {} {}",
        pruned.len(),
        super::plural(pruned.len(), "run")
    ))?;
    Ok(code)
}
