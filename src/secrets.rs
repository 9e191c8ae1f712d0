//! Secrets: loading the ones a runbook names, and masking their values.
//!
//! Each secret named under a runbook's `secrets:` comes from the environment
//! variable of the same name, else from the secrets file. The secrets file is
//! read whenever one is given (so that a bad file is reported even when the
//! environment has every value) and must not be accessible to group or others
//! (`chmod 600`). Its format is dotenv-style:
//!
//! ```text
//! # comments and blank lines are ignored
//! DEPLOY_TOKEN=abc123            (unquoted: the rest of the line, trimmed; `#` is kept)
//! export SLACK_WEBHOOK_URL=https://hooks.example.com/x
//! PASSWORD='single quotes: literal, no escapes'
//! PEM_KEY="double quotes: \n \r \t \" \\ are escapes"
//! ```
//!
//! A quoted value may be followed only by blanks and a `# comment`. Names are
//! `[A-Za-z_][A-Za-z0-9_]*`; a name defined twice is an error. Values span a
//! single line (write newlines as `\n` inside double quotes).
//!
//! A value never appears in `Debug` output or in an error message.

mod redact;
#[cfg(test)]
mod tests;

use std::fmt;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;

pub use redact::{MASK, Redactor};

/// Values shorter than this get a warning: every occurrence of them in any
/// output will be masked.
const SHORT_SECRET: usize = 4;

/// Why secrets could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// The secrets file could not be read.
    #[error("secrets file {}: cannot read it: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The secrets file is accessible to group or others.
    #[error(
        "secrets file {} has mode {mode:04o}, so group or others may access it; \
         restrict it to its owner with `chmod 600 {}`",
        path.display(),
        path.display()
    )]
    Permissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A line of the secrets file does not parse.
    #[error("secrets file {}, line {line}: {reason}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The line, from 1.
        line: usize,
        /// What is wrong (never the value).
        reason: String,
    },
    /// Some secrets are set nowhere.
    #[error("missing secret{}: {}; set {} in the environment{}",
        if names.len() == 1 { "" } else { "s" },
        names.join(", "),
        if names.len() == 1 { "it" } else { "them" },
        file.as_ref().map(|f| format!(" or in {}", f.display())).unwrap_or_else(|| " or in a secrets file".into()))]
    Missing {
        /// The missing names, in the order they were asked for.
        names: Vec<String>,
        /// The secrets file that was consulted, if any.
        file: Option<PathBuf>,
    },
    /// The redactor could not be built from the values.
    #[error("cannot build the secret redactor: {0}")]
    Redactor(#[from] aho_corasick::BuildError),
}

/// Where a secret's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretSource {
    /// The environment variable of the same name.
    Env,
    /// The secrets file.
    File,
}

struct Secret {
    value: String,
    source: SecretSource,
}

/// The loaded secrets of a run, and a [`Redactor`] for their values.
pub struct SecretStore {
    secrets: IndexMap<String, Secret>,
    redactor: Redactor,
}

impl SecretStore {
    /// Loads `names`, each from `env(name)` or else from `secrets_file`.
    /// Every missing secret is reported at once, by name.
    pub fn load(
        names: &[String],
        secrets_file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, SecretsError> {
        let file_values = secrets_file
            .map(read_secrets_file)
            .transpose()?
            .unwrap_or_default();
        let mut secrets = IndexMap::new();
        let mut missing = Vec::new();
        for name in names {
            if secrets.contains_key(name) || missing.contains(name) {
                continue;
            }
            let found = env(name)
                .map(|value| Secret {
                    value,
                    source: SecretSource::Env,
                })
                .or_else(|| {
                    file_values.get(name).map(|value| Secret {
                        value: value.clone(),
                        source: SecretSource::File,
                    })
                });
            match found {
                Some(secret) => {
                    secrets.insert(name.clone(), secret);
                }
                None => missing.push(name.clone()),
            }
        }
        if !missing.is_empty() {
            return Err(SecretsError::Missing {
                names: missing,
                file: secrets_file.map(Path::to_path_buf),
            });
        }
        for (name, secret) in &secrets {
            let len = secret.value.chars().count();
            if len < SHORT_SECRET {
                tracing::warn!(secret = %name, "secret is {len} characters long: every occurrence of its value in output will be masked");
            }
        }
        let redactor = Redactor::new(secrets.values().map(|s| s.value.as_str()))?;
        Ok(Self { secrets, redactor })
    }

    /// [`load`](Self::load) from the process environment.
    pub fn from_env(names: &[String], secrets_file: Option<&Path>) -> Result<Self, SecretsError> {
        Self::load(names, secrets_file, |name| std::env::var(name).ok())
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.secrets.get(name).map(|s| s.value.as_str())
    }

    /// Where `name` came from.
    pub fn source(&self, name: &str) -> Option<SecretSource> {
        self.secrets.get(name).map(|s| s.source)
    }

    /// Names and values, in the order they were asked for (for the template
    /// context; handle with care).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.secrets
            .iter()
            .map(|(name, s)| (name.as_str(), s.value.as_str()))
    }

    /// The number of secrets.
    pub fn len(&self) -> usize {
        self.secrets.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// Masks these secrets' values.
    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }
}

impl fmt::Debug for SecretStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Masked(SecretSource);
        impl fmt::Debug for Masked {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{MASK} (from {:?})", self.0)
            }
        }
        f.debug_map()
            .entries(
                self.secrets
                    .iter()
                    .map(|(name, s)| (name, Masked(s.source))),
            )
            .finish()
    }
}

/// Reads and parses a secrets file, refusing one that group or others may access.
fn read_secrets_file(path: &Path) -> Result<IndexMap<String, String>, SecretsError> {
    let read_err = |source| SecretsError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(read_err)?;
    // Check the opened file, not the path, so it cannot be swapped in between.
    let mode = file.metadata().map_err(read_err)?.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(SecretsError::Permissions {
            path: path.to_path_buf(),
            mode,
        });
    }
    let mut text = String::new();
    file.read_to_string(&mut text).map_err(read_err)?;
    parse_dotenv(&text).map_err(|(line, reason)| SecretsError::Syntax {
        path: path.to_path_buf(),
        line,
        reason,
    })
}

/// Parses dotenv-style text (see the module documentation). Errors carry the
/// line number and a reason that never quotes the value.
fn parse_dotenv(text: &str) -> Result<IndexMap<String, String>, (usize, String)> {
    let mut values = IndexMap::new();
    let mut defined_on = IndexMap::new();
    for (index, raw) in text.lines().enumerate() {
        let line_no = index + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").map_or(line, str::trim_start);
        let Some((name, value)) = line.split_once('=') else {
            return Err((line_no, "expected NAME=value".into()));
        };
        let name = name.trim();
        if !is_name(name) {
            return Err((
                line_no,
                format!(
                    "invalid name `{name}`: a name is a letter or _ followed by letters, digits and _"
                ),
            ));
        }
        let value =
            parse_value(value.trim()).map_err(|reason| (line_no, format!("{name}: {reason}")))?;
        if let Some(first) = defined_on.insert(name.to_owned(), line_no) {
            return Err((
                line_no,
                format!("{name} is defined twice (first on line {first})"),
            ));
        }
        values.insert(name.to_owned(), value);
    }
    Ok(values)
}

fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn parse_value(value: &str) -> Result<String, &'static str> {
    let (parsed, rest) = if let Some(body) = value.strip_prefix('\'') {
        let end = body.find('\'').ok_or("unterminated single quote")?;
        (body[..end].to_owned(), &body[end + 1..])
    } else if let Some(body) = value.strip_prefix('"') {
        let mut parsed = String::new();
        let mut chars = body.char_indices();
        let end = loop {
            match chars.next() {
                None => return Err("unterminated double quote"),
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => parsed.push('\n'),
                    Some((_, 'r')) => parsed.push('\r'),
                    Some((_, 't')) => parsed.push('\t'),
                    Some((_, c @ ('"' | '\\'))) => parsed.push(c),
                    Some((_, c)) => {
                        parsed.push('\\');
                        parsed.push(c);
                    }
                    None => return Err("unterminated double quote"),
                },
                Some((_, c)) => parsed.push(c),
            }
        };
        (parsed, &body[end + 1..])
    } else {
        return Ok(value.to_owned());
    };
    let rest = rest.trim_start();
    if rest.is_empty() || rest.starts_with('#') {
        Ok(parsed)
    } else {
        Err("unexpected text after the closing quote")
    }
}
