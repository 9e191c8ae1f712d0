//! Options of the SQLite store, from the query string of a store URL:
//! `sqlite://PATH?synchronous=off|normal|full`.

use super::StoreError;

/// How hard SQLite works to make a commit durable (`PRAGMA synchronous`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Synchronous {
    /// No fsync at all: a crash of the machine (not of the process) can
    /// lose or damage the store. For measurements and throwaway
    /// environments.
    Off,
    /// In WAL mode, no fsync per commit: a commit survives a crash of the
    /// process, not necessarily a power cut (the default).
    #[default]
    Normal,
    /// An fsync of the WAL at every commit.
    Full,
}

impl Synchronous {
    /// The value for `PRAGMA synchronous`.
    pub fn pragma(self) -> &'static str {
        match self {
            Self::Off => "OFF",
            Self::Normal => "NORMAL",
            Self::Full => "FULL",
        }
    }
}

/// How a [`SqliteStore`](super::SqliteStore) is opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SqliteOptions {
    /// `PRAGMA synchronous` (default [`Synchronous::Normal`]).
    pub synchronous: Synchronous,
}

impl SqliteOptions {
    /// Parses a URL's query string (`synchronous=off&…`, without the `?`);
    /// `url` is the whole store URL, for the error.
    pub fn from_query(url: &str, query: &str) -> Result<Self, StoreError> {
        let bad = |problem: String| StoreError::BadOption {
            url: url.to_owned(),
            problem,
        };
        let mut options = Self::default();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "synchronous" => {
                    options.synchronous = match value.to_ascii_lowercase().as_str() {
                        "off" => Synchronous::Off,
                        "normal" => Synchronous::Normal,
                        "full" => Synchronous::Full,
                        _ => {
                            return Err(bad(format!(
                                "`{value}` is not a value of `synchronous` (off, normal or full)"
                            )));
                        }
                    }
                }
                _ => {
                    return Err(bad(format!(
                        "unknown option `{key}` (known: synchronous=off|normal|full)"
                    )));
                }
            }
        }
        Ok(options)
    }
}
