//! `steward resume RUN`: continues a run whose process died.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::host::{self, Runner, prepare_resume};

use super::exit;

/// Arguments of `resume`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The interrupted run's id (`steward history --status interrupted`).
    run: String,
    /// `text` or `json`, as for `steward run`.
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    output: String,
    /// A file of `NAME=value` secrets (mode 600); default: `secrets_file`
    /// of steward.yaml.
    #[arg(long, env = "STEWARD_SECRETS_FILE", value_name = "FILE")]
    secrets_file: Option<PathBuf>,
    /// Approve the run's remaining `approval` steps in advance.
    #[arg(long, short = 'y')]
    yes: bool,
    /// Write the whole run (kept and new steps) as JUnit XML to FILE.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
}

pub fn run(project_dir: Option<&Path>, store: Option<&str>, args: Args) -> anyhow::Result<u8> {
    let (project, store) = match super::project_store(project_dir, store) {
        Ok(found) => found,
        Err(code) => return Ok(code),
    };
    let secrets_file = args.secrets_file.clone().or_else(|| {
        project
            .config
            .secrets_file
            .as_ref()
            .map(|f| project.root.join(f))
    });
    let by = crate::trigger::detect(|k| std::env::var(k).ok());
    let launch = match prepare_resume(
        &store,
        &args.run,
        by.clone(),
        secrets_file.as_deref(),
        super::run::display(&args.output),
    ) {
        Ok(l) => l,
        Err(e) => {
            let hint = match &e {
                host::ResumeError::NoSuchRun(_) => {
                    Some("`steward history --status interrupted` lists the runs to resume")
                }
                host::ResumeError::Alive(_) => Some("wait for it, or stop its process first"),
                _ => None,
            };
            super::print_error(&e.to_string(), hint);
            return Ok(match e {
                host::ResumeError::Store(_) => exit::FAILED,
                _ => exit::INVALID,
            });
        }
    };
    // The resumed run keeps the trigger it was started with in the store;
    // child runs it starts from now on are started by whoever resumed it.
    let store_path = store.path().to_path_buf();
    let options = host::Options {
        yes: args.yes,
        secrets_file,
    };
    let console = Arc::new(super::console::Terminal {
        ask: args.output == "text",
    });
    let runner = Runner::new(project, Arc::new(store), store_path, by, options, console);
    super::run::host(&runner, launch, &args.output, args.junit.as_deref())
}
