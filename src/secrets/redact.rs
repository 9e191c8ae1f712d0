//! Masking secret values in text and JSON.

use std::borrow::Cow;
use std::fmt;

use aho_corasick::{AhoCorasick, MatchKind};
use serde_json::{Map, Value};

/// What a secret is replaced with.
pub const MASK: &str = "***";

/// A line of a multi-line secret is masked on its own only when it has at
/// least this many non-blank characters (so that a `}` line of a JSON key
/// file does not mask every brace).
const MIN_LINE_PATTERN: usize = 8;

/// Replaces every occurrence of every secret value with [`MASK`].
///
/// What is masked, for each non-empty value (however short: a one-character
/// secret masks that character everywhere; leaking it would be worse):
///
/// - the value itself;
/// - its JSON-escaped form, when different (a value with `"` or `\` or a
///   newline, as it appears inside serialised JSON);
/// - for a multi-line value (a PEM key), each of its lines with at least 8
///   non-blank characters, since output is often handled line by line.
///
/// Overlapping or adjacent occurrences are merged into one mask, so no part
/// of any secret stays visible between two masks.
#[derive(Clone, Default)]
pub struct Redactor {
    matcher: Option<AhoCorasick>,
    patterns: usize,
}

impl Redactor {
    /// A redactor for `values`. Fails only if the automaton cannot be built
    /// (patterns beyond its size limits).
    pub fn new<I, S>(values: I) -> Result<Self, aho_corasick::BuildError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut patterns = Vec::new();
        for value in values {
            let value = value.as_ref();
            if value.is_empty() {
                continue;
            }
            patterns.push(value.to_owned());
            let escaped = Value::from(value).to_string();
            let escaped = &escaped[1..escaped.len() - 1];
            if escaped != value {
                patterns.push(escaped.to_owned());
            }
            if value.contains('\n') {
                patterns.extend(
                    value
                        .lines()
                        .map(str::trim)
                        .filter(|line| line.chars().count() >= MIN_LINE_PATTERN)
                        .map(str::to_owned),
                );
            }
        }
        patterns.sort_unstable();
        patterns.dedup();
        if patterns.is_empty() {
            return Ok(Self::default());
        }
        let matcher = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .build(&patterns)?;
        Ok(Self {
            matcher: Some(matcher),
            patterns: patterns.len(),
        })
    }

    /// Whether there is nothing to mask.
    pub fn is_empty(&self) -> bool {
        self.matcher.is_none()
    }

    /// Whether `text` holds a secret.
    pub fn contains_secret(&self, text: &str) -> bool {
        self.matcher.as_ref().is_some_and(|m| m.is_match(text))
    }

    /// `text` with every secret masked; borrowed when there was none.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let Some(matcher) = &self.matcher else {
            return Cow::Borrowed(text);
        };
        let mut spans: Vec<(usize, usize)> = matcher
            .find_overlapping_iter(text)
            .map(|m| (m.start(), m.end()))
            .collect();
        if spans.is_empty() {
            return Cow::Borrowed(text);
        }
        spans.sort_unstable();
        let mut out = String::with_capacity(text.len());
        let mut copied = 0;
        let mut current: Option<(usize, usize)> = None;
        for (start, end) in spans {
            if let Some((_, cur_end)) = current.as_mut()
                && start <= *cur_end
            {
                *cur_end = (*cur_end).max(end);
                continue;
            }
            if let Some((s, e)) = current.replace((start, end)) {
                out.push_str(&text[copied..s]);
                out.push_str(MASK);
                copied = e;
            }
        }
        if let Some((s, e)) = current {
            out.push_str(&text[copied..s]);
            out.push_str(MASK);
            copied = e;
        }
        out.push_str(&text[copied..]);
        Cow::Owned(out)
    }

    /// Masks secrets in every string and object key of `value`, recursively.
    /// A number whose text holds a secret becomes a masked string. Keys that
    /// become equal once masked are kept apart as `***`, `***#2`, `***#3`…
    pub fn redact_json(&self, value: &mut Value) {
        if self.is_empty() {
            return;
        }
        match value {
            Value::String(text) => {
                if let Cow::Owned(masked) = self.redact(text) {
                    *text = masked;
                }
            }
            Value::Number(number) => {
                let text = number.to_string();
                if let Cow::Owned(masked) = self.redact(&text) {
                    *value = Value::String(masked);
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|item| self.redact_json(item)),
            Value::Object(map) => {
                if map.keys().any(|key| self.contains_secret(key)) {
                    let old = std::mem::take(map);
                    for (key, mut item) in old {
                        self.redact_json(&mut item);
                        let key = unique_key(map, self.redact(&key).into_owned());
                        map.insert(key, item);
                    }
                } else {
                    map.values_mut().for_each(|item| self.redact_json(item));
                }
            }
            Value::Null | Value::Bool(_) => {}
        }
    }
}

fn unique_key(map: &Map<String, Value>, key: String) -> String {
    if !map.contains_key(&key) {
        return key;
    }
    (2u64..)
        .map(|n| format!("{key}#{n}"))
        .find(|candidate| !map.contains_key(candidate))
        .unwrap_or(key)
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field("patterns", &self.patterns)
            .finish()
    }
}
