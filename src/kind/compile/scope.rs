//! Checking a template or expression: its syntax, and that every name it
//! reads exists and, for `steps.<id>`, runs before it.

use std::collections::HashSet;

use minijinja::Environment;

use crate::diagnostic::Span;
use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::template::{Escape, Expr, Template, is_dynamic};

/// Functions of the environment, which look like undeclared names.
const FUNCTIONS: &[&str] = &[
    "range",
    "dict",
    "namespace",
    "debug",
    "cycler",
    "joiner",
    "now",
];

/// The names a template may read where it stands.
#[derive(Debug, Clone, Default)]
pub struct Scope<'a> {
    /// Declared input names.
    pub inputs: Option<&'a HashSet<String>>,
    /// Declared secret names.
    pub secrets: Option<&'a HashSet<String>>,
    /// Variables defined so far.
    pub vars: Option<&'a [String]>,
    /// Template parameters, inside a step template.
    pub params: Option<&'a HashSet<String>>,
    /// Whether `steps` may be read.
    pub steps: bool,
    /// Whether `result` may be read (assert, outputs).
    pub result: bool,
    /// Whether `item` may be read (for_each steps).
    pub item: bool,
    /// Whether `env` and `run` may be read.
    pub run: bool,
}

/// A `steps.<id>` read found in a template.
#[derive(Debug, Clone, PartialEq)]
pub struct StepRef {
    /// The step read.
    pub id: String,
    /// Where the read is written.
    pub span: Span,
}

/// Checks templates and expressions against a scope, locating problems in
/// the source text.
pub struct Checker<'s> {
    env: Environment<'static>,
    source: &'s str,
    /// Byte offset of the start of each line, so that a position is found
    /// without scanning the file from its top.
    line_starts: Vec<usize>,
}

/// How [`Checker::find`] matches.
#[derive(Clone, Copy)]
enum Match {
    /// Any occurrence.
    Raw,
    /// A whole dotted name (not part of a longer one); with `tags`, only
    /// inside `{{ … }}` or `{% … %}`, not in the literal text around them.
    Name { tags: bool },
}

impl<'s> Checker<'s> {
    /// A checker for one file's text.
    pub fn new(source: &'s str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(source.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Checker {
            env: crate::template::environment(),
            source,
            line_starts,
        }
    }

    /// Checks a template string; returns the template and the steps it reads.
    pub fn template(
        &self,
        text: &str,
        span: Span,
        escape: Escape,
        scope: &Scope,
        diagnostics: &mut Vec<Diagnostic>,
        refs: &mut Vec<StepRef>,
    ) -> Template {
        let template = Template {
            source: text.to_owned(),
            escape,
        };
        if !is_dynamic(text) {
            return template;
        }
        match self.env.template_from_str(text) {
            Ok(parsed) => {
                let names = parsed.undeclared_variables(true);
                self.check_names(names, text, true, span, scope, diagnostics, refs);
            }
            Err(e) => diagnostics.push(self.syntax_error(&e, text, span, "template")),
        }
        template
    }

    /// Checks an expression (`when`, `assert`, `for_each`).
    pub fn expr(
        &self,
        text: &str,
        span: Span,
        scope: &Scope,
        diagnostics: &mut Vec<Diagnostic>,
        refs: &mut Vec<StepRef>,
    ) -> Expr {
        let expr = Expr::new(text);
        if expr.source.is_empty() {
            diagnostics.push(Diagnostic::new(span, "empty expression"));
            return expr;
        }
        if crate::template::stray_variable_end(&expr.source).is_some() {
            diagnostics
                .push(Diagnostic::new(span, "`}}` inside an expression").hint(
                    "an expression is written without `{{ }}`; close nested maps with `} }`",
                ));
            return expr;
        }
        match self.env.compile_expression(&expr.source) {
            Ok(parsed) => {
                let names = parsed.undeclared_variables(true);
                self.check_names(names, text, false, span, scope, diagnostics, refs);
            }
            // The error's range is in the expression as compiled, which may
            // be `text` unwrapped from `{{ }}`.
            Err(e) => diagnostics.push(self.syntax_error(&e, &expr.source, span, "expression")),
        }
        expr
    }

    fn syntax_error(&self, e: &minijinja::Error, text: &str, span: Span, what: &str) -> Diagnostic {
        let detail = e
            .detail()
            .map(str::to_owned)
            .unwrap_or_else(|| e.kind().to_string());
        // The snippet may occur earlier in the text too (`{{ a }} {{ b + }}`
        // fails at the second `}}`): find the same occurrence in the source.
        let at = e
            .range()
            .and_then(|r| {
                let snippet = text.get(r.clone())?;
                let trimmed = snippet.trim();
                if trimmed.is_empty() {
                    return None;
                }
                let start = r.start + (snippet.len() - snippet.trim_start().len());
                let nth = text[..start].matches(trimmed).count();
                self.find(span, trimmed, nth, Self::reach(text), Match::Raw)
            })
            .unwrap_or(span);
        Diagnostic::new(at, format!("{what} syntax error: {detail}"))
            .hint("templates use minijinja (Jinja2) syntax: `{{ inputs.name }}`, `{% if … %}…{% endif %}`")
    }

    #[allow(clippy::too_many_arguments)]
    fn check_names(
        &self,
        names: HashSet<String>,
        text: &str,
        tags: bool,
        span: Span,
        scope: &Scope,
        diagnostics: &mut Vec<Diagnostic>,
        refs: &mut Vec<StepRef>,
    ) {
        let reach = Self::reach(text);
        let first = diagnostics.len();
        let mut names: Vec<String> = names.into_iter().collect();
        names.sort();
        for name in names {
            let mut parts = name.splitn(3, '.');
            let root = parts.next().unwrap_or_default();
            let attr = parts.next();
            let at = |needle: &str| {
                self.find(span, needle, 0, reach, Match::Name { tags })
                    .unwrap_or_else(|| self.locate(span, needle))
            };
            let declared = |set: Option<&HashSet<String>>, kind: &str, key: &str| {
                let attr = attr?;
                let set = set?;
                if set.contains(attr) {
                    return None;
                }
                let near = did_you_mean(attr, set.iter().map(String::as_str));
                Some(
                    Diagnostic::new(
                        at(&name),
                        format!("`{root}.{attr}` is not a declared {kind}"),
                    )
                    .hint(match near {
                        Some(near) => format!("did you mean `{root}.{near}`?"),
                        None => format!("declare it under `{key}:` at the top of the runbook"),
                    }),
                )
            };
            let problem = match root {
                "inputs" if scope.inputs.is_some() => declared(scope.inputs, "input", "inputs"),
                "secrets" if scope.secrets.is_some() => {
                    declared(scope.secrets, "secret", "secrets")
                }
                "params" if scope.params.is_some() => declared(scope.params, "parameter", "params"),
                "vars" if scope.vars.is_some() => {
                    let vars = scope.vars.unwrap_or_default();
                    match attr {
                        Some(attr) if !vars.iter().any(|v| v == attr) => Some(
                            Diagnostic::new(
                                at(&name),
                                format!("`vars.{attr}` is not defined here"),
                            )
                            .hint("a var can read only the vars defined above it"),
                        ),
                        _ => None,
                    }
                }
                "steps" if scope.steps => {
                    if let Some(id) = attr {
                        refs.push(StepRef {
                            id: id.to_owned(),
                            span: at(&format!("steps.{id}")),
                        });
                    }
                    None
                }
                "result" if scope.result => None,
                "item" if scope.item => None,
                "env" | "run" if scope.run => None,
                "loop" => None,
                _ if FUNCTIONS.contains(&root) => None,
                _ => Some(self.unknown_root(root, at(root), scope)),
            };
            // Only this template's problems are compared (`inputs.x` and
            // `inputs.x.y` are one problem): comparing with every problem of
            // the file made a file with many errors quadratic. Repeats across
            // templates are removed when the file's problems are sorted.
            if let Some(problem) = problem {
                if !diagnostics[first..].contains(&problem) {
                    diagnostics.push(problem);
                }
            }
        }
    }

    fn unknown_root(&self, root: &str, span: Span, scope: &Scope) -> Diagnostic {
        let mut available = Vec::new();
        for (name, ok) in [
            ("inputs", scope.inputs.is_some()),
            ("vars", scope.vars.is_some()),
            ("secrets", scope.secrets.is_some()),
            ("env", scope.run),
            ("run", scope.run),
            ("steps", scope.steps),
            ("params", scope.params.is_some()),
            ("item", scope.item),
            ("result", scope.result),
        ] {
            if ok {
                available.push(name);
            }
        }
        let hint = match did_you_mean(root, available.iter().copied()) {
            Some(near) => format!("did you mean `{near}`?"),
            None => format!("names available here: {}", available.join(", ")),
        };
        let message = match root {
            "result" => "`result` can only be read in `assert` and `outputs`".to_owned(),
            "item" => "`item` can only be read in a step with `for_each`, and not in its `when`, which is decided once for the whole step".to_owned(),
            "params" => "`params` can only be read inside a step template".to_owned(),
            "steps" => "`steps` can't be read here: it runs before any step".to_owned(),
            _ => format!("unknown name `{root}`"),
        };
        Diagnostic::new(span, message).hint(hint)
    }

    /// The position of `needle` in the source, searching from `span` over
    /// the lines the scalar may cover; `span` itself when not found.
    pub fn locate(&self, span: Span, needle: &str) -> Span {
        self.find(span, needle, 0, 200, Match::Raw).unwrap_or(span)
    }

    /// How many source lines a scalar holding `text` may cover: each of its
    /// lines adds at least a character (or a newline) to the text.
    fn reach(text: &str) -> usize {
        text.chars().count().saturating_add(2).max(200)
    }

    /// The `nth` occurrence (from 0) of `needle` in the source, starting at
    /// `span` and looking at most `lines` lines down.
    fn find(&self, span: Span, needle: &str, nth: usize, lines: usize, how: Match) -> Option<Span> {
        if needle.is_empty() {
            return None;
        }
        let first = span.line.checked_sub(1)?;
        let line_start = *self.line_starts.get(first)?;
        let line = &self.source[line_start..];
        let line = &line[..line.find('\n').unwrap_or(line.len())];
        let from = line_start
            + line
                .char_indices()
                .nth(span.col.saturating_sub(1))
                .map_or(line.len(), |(b, _)| b);
        let end = self
            .line_starts
            .get(first.saturating_add(lines))
            .copied()
            .unwrap_or(self.source.len());
        let bytes = self.source.as_bytes();
        let needle_bytes = needle.as_bytes();
        let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
        let mut inside = !matches!(how, Match::Name { tags: true });
        let mut seen = 0;
        let mut at = from;
        while at < end {
            let rest = &bytes[at..end];
            if let Match::Name { tags: true } = how {
                if rest.starts_with(b"{{") || rest.starts_with(b"{%") {
                    inside = true;
                    at += 2;
                    continue;
                }
                if rest.starts_with(b"}}") || rest.starts_with(b"%}") {
                    inside = false;
                    at += 2;
                    continue;
                }
            }
            let hit = inside
                && rest.starts_with(needle_bytes)
                && match how {
                    Match::Raw => true,
                    Match::Name { .. } => {
                        let before = at.checked_sub(1).map(|i| bytes[i]);
                        let after = bytes.get(at + needle_bytes.len()).copied();
                        !before.is_some_and(|b| word(b) || b == b'.') && !after.is_some_and(word)
                    }
                };
            if hit {
                if seen == nth {
                    return Some(self.span_at(at, needle.chars().count()));
                }
                seen += 1;
                at += needle_bytes.len();
            } else {
                at += 1;
            }
        }
        None
    }

    /// The position of the key `key` whose value is at `value`: before it on
    /// its line, or on a line above (a block value); `value` when not found.
    pub fn key_of(&self, value: Span, key: &str) -> Span {
        let Some(line) = value.line.checked_sub(1) else {
            return value;
        };
        let Some(&line_start) = self.line_starts.get(line) else {
            return value;
        };
        let text = &self.source[line_start..];
        let end = line_start
            + text
                .char_indices()
                .take_while(|&(_, c)| c != '\n')
                .nth(value.col.saturating_sub(1))
                .map_or_else(|| text.find('\n').unwrap_or(text.len()), |(b, _)| b);
        let start = self.line_starts[line.saturating_sub(3)];
        let window = &self.source[start..end];
        let word = |c: char| c.is_alphanumeric() || c == '_' || c == '-';
        window
            .match_indices(key)
            .filter(|&(at, _)| {
                !window[..at].chars().next_back().is_some_and(word)
                    && window[at + key.len()..]
                        .trim_start_matches([' ', '\t', '"', '\''])
                        .starts_with(':')
            })
            .last()
            .map_or(value, |(at, _)| {
                self.span_at(start + at, key.chars().count())
            })
    }

    /// The span of `width` characters at byte `offset` of the source.
    fn span_at(&self, offset: usize, width: usize) -> Span {
        let line = self.line_starts.partition_point(|&s| s <= offset).max(1);
        let start = self.line_starts[line - 1];
        let col = self.source[start..offset].chars().count() + 1;
        Span::new(line, col, width)
    }
}
