//! Diagnostics in the style of `just` and `rustc`: a message, the file,
//! line and column, the source line with a caret, and a hint.

use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};
use serde::Serialize;

/// A position in a source file: 1-based line, 1-based column (in chars),
/// and the length of the token in chars (at least 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Span {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub col: usize,
    /// Length of the token in characters; the caret's width.
    pub len: usize,
}

impl Span {
    /// A span at `line:col` covering `len` characters.
    pub fn new(line: usize, col: usize, len: usize) -> Self {
        Span {
            line,
            col,
            len: len.max(1),
        }
    }

    /// The same position, covering `len` characters from `offset` chars in.
    pub fn sub(self, offset: usize, len: usize) -> Self {
        Span::new(self.line, self.col + offset, len)
    }
}

/// One problem found in a file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnostic {
    /// What is wrong, in one sentence.
    pub message: String,
    /// Where, when known.
    pub span: Option<Span>,
    /// How to fix it, when there is something useful to say.
    pub hint: Option<String>,
}

impl Diagnostic {
    /// The message alone, as one `error:` line and its `hint:` (for
    /// problems that belong to no file).
    pub fn headline(&self) -> String {
        use anstyle::{AnsiColor, Style};
        let red = Style::new().fg_color(Some(AnsiColor::Red.into())).bold();
        let mut s = format!(
            "{}error{}: {}\n",
            red.render(),
            red.render_reset(),
            self.message
        );
        if let Some(h) = &self.hint {
            s.push_str(&format!("hint: {h}\n"));
        }
        s
    }

    /// A problem at `span`.
    pub fn new(span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            message: message.into(),
            span: Some(span),
            hint: None,
        }
    }

    /// A problem with the file as a whole.
    pub fn whole_file(message: impl Into<String>) -> Self {
        Diagnostic {
            message: message.into(),
            span: None,
            hint: None,
        }
    }

    /// Adds a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Adds a hint when there is one.
    pub fn maybe_hint(mut self, hint: Option<String>) -> Self {
        self.hint = hint;
        self
    }

    /// Renders the diagnostic against the file it is about.
    pub fn render(&self, path: &str, source: &str, color: bool) -> String {
        let lines: Vec<&str> = source.lines().collect();
        self.render_lines(path, &lines, color)
    }

    /// Renders against a file already split into lines (for many
    /// diagnostics of one file).
    pub fn render_lines(&self, path: &str, lines: &[&str], color: bool) -> String {
        let paint = |style: Style, text: &str| {
            if color {
                format!("{}{text}{}", style.render(), style.render_reset())
            } else {
                text.to_owned()
            }
        };
        let red = Style::new().fg_color(Some(AnsiColor::Red.into())).bold();
        let blue = Style::new().fg_color(Some(AnsiColor::Blue.into())).bold();
        let bold = Style::new().bold();
        let cyan = Style::new().fg_color(Some(AnsiColor::Cyan.into())).bold();

        let mut out = String::new();
        let _ = writeln!(
            out,
            "{}{}",
            paint(red, "error"),
            paint(bold, &format!(": {}", self.message))
        );
        match self.span {
            Some(span) => {
                let gutter = span.line.to_string().len();
                let pad = " ".repeat(gutter);
                let _ = writeln!(
                    out,
                    "{pad}{} {path}:{}:{}",
                    paint(blue, "-->"),
                    span.line,
                    span.col
                );
                let line = lines.get(span.line.saturating_sub(1)).copied();
                if let Some(line) = line {
                    let bar = paint(blue, "|");
                    let _ = writeln!(out, "{pad} {bar}");
                    let _ = writeln!(
                        out,
                        "{} {bar} {}",
                        paint(blue, &span.line.to_string()),
                        line.trim_end()
                    );
                    let before: String = line
                        .chars()
                        .take(span.col.saturating_sub(1))
                        .map(|c| if c == '\t' { '\t' } else { ' ' })
                        .collect();
                    let available = line.chars().count().saturating_sub(before.chars().count());
                    let width = span.len.min(available).max(1);
                    let _ = writeln!(
                        out,
                        "{pad} {bar} {before}{}",
                        paint(red, &"^".repeat(width))
                    );
                }
            }
            None => {
                let _ = writeln!(out, " {} {path}", paint(blue, "-->"));
            }
        }
        if let Some(hint) = &self.hint {
            let _ = writeln!(out, "{}{hint}", paint(cyan, "hint: "));
        }
        out
    }
}

/// The known word closest to `word`, if it is close enough to be a typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3) && *d < c.len().max(word.len()))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_caret_under_token() {
        let source = "steps:\n  - id: a\n    neds: [b]\n";
        let d = Diagnostic::new(Span::new(3, 5, 4), "unknown key `neds` in a step")
            .hint("did you mean `needs`?");
        let text = d.render("runbooks/x.yaml", source, false);
        assert_eq!(
            text,
            "error: unknown key `neds` in a step\n --> runbooks/x.yaml:3:5\n  |\n3 |     neds: [b]\n  |     ^^^^\nhint: did you mean `needs`?\n"
        );
    }

    #[test]
    fn suggestions() {
        assert_eq!(
            did_you_mean("neds", ["needs", "name", "when"]),
            Some("needs")
        );
        assert_eq!(
            did_you_mean("timout", ["timeout", "retry"]),
            Some("timeout")
        );
        assert_eq!(did_you_mean("zzzzzz", ["needs", "when"]), None);
    }
}
