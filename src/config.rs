//! `steward.yaml`: where the project keeps its runbooks, step templates and
//! secrets.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The project configuration; every key is optional.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Folder of runbooks, relative to the project (default `runbooks`).
    #[serde(default = "default_runbooks")]
    pub runbooks: PathBuf,
    /// Folder of step templates (default `steps`).
    #[serde(default = "default_steps")]
    pub steps: PathBuf,
    /// A file of `NAME=value` secrets readable only by its owner.
    pub secrets_file: Option<PathBuf>,
    /// The run store: a SQLite file (relative to the project) or
    /// `sqlite://PATH`; default `.steward/steward.db`. `--store` and
    /// `STEWARD_STORE` win over it.
    pub store: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            runbooks: default_runbooks(),
            steps: default_steps(),
            secrets_file: None,
            store: None,
        }
    }
}

fn default_runbooks() -> PathBuf {
    PathBuf::from("runbooks")
}

fn default_steps() -> PathBuf {
    PathBuf::from("steps")
}
