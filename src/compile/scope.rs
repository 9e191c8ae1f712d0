//! Checking a template or expression: its syntax, and that every name it
//! reads exists and, for `steps.<id>`, runs before it.

use std::collections::HashSet;

use minijinja::Environment;

use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::spec::yaml::Span;
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
}

impl<'s> Checker<'s> {
    /// A checker for one file's text.
    pub fn new(source: &'s str) -> Self {
        Checker {
            env: crate::template::environment(),
            source,
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
                self.check_names(names, text, span, scope, diagnostics, refs);
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
        match self.env.compile_expression(&expr.source) {
            Ok(parsed) => {
                let names = parsed.undeclared_variables(true);
                self.check_names(names, text, span, scope, diagnostics, refs);
            }
            Err(e) => diagnostics.push(self.syntax_error(&e, text, span, "expression")),
        }
        expr
    }

    fn syntax_error(&self, e: &minijinja::Error, text: &str, span: Span, what: &str) -> Diagnostic {
        let detail = e
            .detail()
            .map(str::to_owned)
            .unwrap_or_else(|| e.kind().to_string());
        let at = e
            .range()
            .and_then(|r| text.get(r))
            .filter(|snippet| !snippet.trim().is_empty())
            .map(|snippet| self.locate(span, snippet.trim()))
            .unwrap_or(span);
        Diagnostic::new(at, format!("{what} syntax error: {detail}"))
            .hint("templates use minijinja (Jinja2) syntax: `{{ inputs.name }}`, `{% if … %}…{% endif %}`")
    }

    fn check_names(
        &self,
        names: HashSet<String>,
        text: &str,
        span: Span,
        scope: &Scope,
        diagnostics: &mut Vec<Diagnostic>,
        refs: &mut Vec<StepRef>,
    ) {
        let mut names: Vec<String> = names.into_iter().collect();
        names.sort();
        for name in names {
            let mut parts = name.splitn(3, '.');
            let root = parts.next().unwrap_or_default();
            let attr = parts.next();
            let at = |needle: &str| self.locate(span, needle);
            let declared = |set: Option<&HashSet<String>>, kind: &str, key: &str| {
                let Some(attr) = attr else { return None };
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
            if let Some(problem) = problem {
                if !diagnostics.contains(&problem) {
                    diagnostics.push(problem);
                }
            }
        }
        let _ = text;
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
            "item" => "`item` can only be read in a step with `for_each`".to_owned(),
            "params" => "`params` can only be read inside a step template".to_owned(),
            "steps" => "`steps` can't be read here: it runs before any step".to_owned(),
            _ => format!("unknown name `{root}`"),
        };
        Diagnostic::new(span, message).hint(hint)
    }

    /// The position of `needle` in the source, searching from `span` over
    /// the lines the scalar may cover; `span` itself when not found.
    pub fn locate(&self, span: Span, needle: &str) -> Span {
        let width = needle.chars().count();
        for (offset, line) in self
            .source
            .lines()
            .skip(span.line.saturating_sub(1))
            .take(200)
            .enumerate()
        {
            let from = if offset == 0 {
                span.col.saturating_sub(1)
            } else {
                0
            };
            let start_byte = line.char_indices().nth(from).map_or(line.len(), |(b, _)| b);
            if let Some(found) = line[start_byte..].find(needle) {
                let col = line[..start_byte + found].chars().count() + 1;
                return Span::new(span.line + offset, col, width);
            }
        }
        span
    }
}
