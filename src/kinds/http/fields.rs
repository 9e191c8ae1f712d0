//! Field checks shared by the network kinds (`http`, `notify`): templates,
//! URLs, flags and names from a fixed list.

use std::time::Duration;

use indexmap::IndexMap;

use crate::diagnostic::Span;
use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::syntax::{Scalar, Spanned};
use crate::template::TemplatedValue as Value;
use crate::template::{Escape, Template, is_dynamic};

use crate::kind::CompileCx;
use crate::kind::compile::value;
use crate::kind::compile::values::{self, Params};
use crate::kind::compile::{Checker, Scope, StepRef};

/// What the fields of one step are checked against, and where problems go.
pub(crate) struct Fields<'a, 'c> {
    /// Checks templates.
    pub checker: &'a Checker<'c>,
    /// Names the templates may read.
    pub scope: &'a Scope<'a>,
    /// Literal `with:` values, inside a step template.
    pub params: Option<&'a Params>,
    /// Problems found.
    pub diagnostics: &'a mut Vec<Diagnostic>,
    /// `steps.<id>` reads found.
    pub refs: &'a mut Vec<StepRef>,
}

impl<'a, 'c> Fields<'a, 'c> {
    /// The fields of the step `cx` compiles.
    pub fn of(cx: &'a mut CompileCx<'c, '_>) -> Self {
        Fields {
            checker: cx.checker,
            scope: cx.scope,
            params: cx.params,
            diagnostics: cx.diagnostics,
            refs: cx.refs,
        }
    }
}

/// The position of a field, or of its parent when the field came from a
/// short form (which has no position of its own).
pub(crate) fn at(field: Span, parent: Span) -> Span {
    if field.line == 0 { parent } else { field }
}

impl Fields<'_, '_> {
    /// Records a problem.
    pub fn error(&mut self, span: Span, message: impl Into<String>, hint: impl Into<String>) {
        self.diagnostics
            .push(Diagnostic::new(span, message).hint(hint));
    }

    /// A template that is inserted as is.
    pub fn text(&mut self, text: &str, span: Span) -> Template {
        self.checker.template(
            text,
            span,
            Escape::None,
            self.scope,
            self.diagnostics,
            self.refs,
        )
    }

    /// An optional template field.
    pub fn opt(&mut self, field: &Option<Spanned<String>>) -> Option<Template> {
        field.as_ref().map(|f| self.text(&f.value, f.span))
    }

    /// A mapping of names to templates (headers, query, form, fields).
    pub fn map(
        &mut self,
        map: &IndexMap<Spanned<String>, Spanned<Scalar>>,
    ) -> Vec<(String, Template)> {
        map.iter()
            .map(|(k, v)| (k.value.clone(), self.text(&v.value.0, v.span)))
            .collect()
    }

    /// A JSON value whose strings are templates.
    pub fn value(&mut self, v: &Spanned<serde_json::Value>) -> Value {
        value::compile(v, self.checker, self.scope, self.diagnostics, self.refs)
    }

    /// A URL: a template; when literal, it must parse as `http(s)://…`.
    pub fn url(&mut self, url: &Spanned<String>, parent: Span) -> Template {
        let span = at(url.span, parent);
        let text = url.value.trim();
        if text.is_empty() {
            self.error(
                span,
                "empty URL",
                "write `https://host/path`, or a template such as `{{ vars.api }}/health`",
            );
        } else if !is_dynamic(text) {
            match reqwest::Url::parse(text) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                Ok(u) => self.error(
                    span,
                    format!("unsupported URL scheme `{}`", u.scheme()),
                    "only `http://` and `https://` URLs are supported",
                ),
                Err(e) => self.error(
                    span,
                    format!("invalid URL `{text}`: {e}"),
                    "write `https://host/path`",
                ),
            }
        }
        self.text(text, span)
    }

    /// A boolean field with a default.
    pub fn flag(&mut self, field: &Option<Spanned<Scalar>>, default: bool) -> bool {
        field
            .as_ref()
            .and_then(|f| values::flag(f, self.params, self.diagnostics))
            .unwrap_or(default)
    }

    /// A duration field with a default.
    pub fn duration(&mut self, field: &Option<Spanned<Scalar>>, default: Duration) -> Duration {
        field
            .as_ref()
            .and_then(|f| values::duration(f, self.params, self.diagnostics))
            .unwrap_or(default)
    }

    /// A field that takes one of `names` (any case), known before the run.
    pub fn word<'n>(
        &mut self,
        field: &Spanned<Scalar>,
        what: &str,
        names: &[&'n str],
    ) -> Option<&'n str> {
        let text = values::resolve(field, self.params, self.diagnostics)?;
        let text = text.trim();
        if let Some(name) = names.iter().find(|n| n.eq_ignore_ascii_case(text)) {
            return Some(name);
        }
        let lower: Vec<String> = names.iter().map(|n| n.to_ascii_lowercase()).collect();
        let near = did_you_mean(&text.to_ascii_lowercase(), lower.iter().map(String::as_str))
            .and_then(|near| names.iter().find(|n| n.eq_ignore_ascii_case(near)));
        let hint = match near {
            Some(near) => format!("did you mean `{near}`? ({})", names.join(", ")),
            None => format!("one of: {}", names.join(", ")),
        };
        self.error(field.span, format!("unknown {what} `{text}`"), hint);
        None
    }
}
