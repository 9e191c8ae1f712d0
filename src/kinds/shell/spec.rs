//! What a `shell` step says in YAML.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::syntax::{FromScalar, Spanned};

/// A `shell` step in full form.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShellSpec {
    /// The script (a template; interpolated values are shell-quoted).
    pub run: Spanned<String>,
    /// Working directory (a template).
    pub cwd: Option<Spanned<String>>,
    /// Extra environment variables (templates).
    #[serde(default)]
    pub env: IndexMap<Spanned<String>, Spanned<String>>,
    /// The interpreter and its flags, e.g. `python3` or `sh -e`; the script
    /// is passed with `-c`. Default: `bash -eo pipefail`.
    pub interpreter: Option<Spanned<String>>,
}

impl FromScalar for ShellSpec {
    fn from_scalar(run: String) -> Self {
        ShellSpec {
            run: Spanned::new(Default::default(), run),
            cwd: None,
            env: IndexMap::new(),
            interpreter: None,
        }
    }
}
