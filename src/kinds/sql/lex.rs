//! Just enough of PostgreSQL's lexer to split a script into statements and
//! find `$n` placeholders: quoted strings (`'…'`, `E'…'`, `$tag$…$tag$`),
//! quoted identifiers and comments are skipped, as psql does.

/// One statement of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement<'a> {
    /// Its text, trimmed, without the closing `;`.
    pub text: &'a str,
    /// Byte offset of `text` in the script.
    pub offset: usize,
}

/// What [`scan`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan<'a> {
    /// The statements, in order; those holding only comments are left out.
    pub statements: Vec<Statement<'a>>,
    /// The highest `$n` placeholder (0: none).
    pub max_placeholder: usize,
    /// What was left open at the end of the text (`a quoted string`…).
    pub unterminated: Option<&'static str>,
}

fn ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

fn tag_char(b: u8, first: bool) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80 || (!first && b.is_ascii_digit())
}

/// Splits `text` at the `;` that end statements (not those inside quotes,
/// comments or parentheses) and finds its placeholders.
pub fn scan(text: &str) -> Scan<'_> {
    let b = text.as_bytes();
    let n = b.len();
    let mut scan = Scan {
        statements: Vec::new(),
        max_placeholder: 0,
        unterminated: None,
    };
    let (mut i, mut start, mut code, mut depth) = (0usize, 0usize, false, 0usize);
    let next = |i: usize| b.get(i + 1).copied();
    while i < n {
        let c = b[i];
        match c {
            b'-' if next(i) == Some(b'-') => {
                i = text[i..].find('\n').map_or(n, |at| i + at);
                continue;
            }
            b'/' if next(i) == Some(b'*') => {
                let mut nest = 0usize;
                while i < n {
                    if b[i] == b'/' && next(i) == Some(b'*') {
                        nest += 1;
                        i += 2;
                    } else if b[i] == b'*' && next(i) == Some(b'/') {
                        nest -= 1;
                        i += 2;
                        if nest == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
                if nest > 0 {
                    scan.unterminated = Some("a /* comment");
                }
                continue;
            }
            b'\'' => {
                code = true;
                let escapes =
                    i >= 1 && matches!(b[i - 1], b'E' | b'e') && (i < 2 || !ident_char(b[i - 2]));
                i = skip_quoted(b, i, b'\'', escapes);
                if i > n {
                    scan.unterminated = Some("a quoted string");
                }
                continue;
            }
            b'"' => {
                code = true;
                i = skip_quoted(b, i, b'"', false);
                if i > n {
                    scan.unterminated = Some("a quoted identifier");
                }
                continue;
            }
            b'$' => {
                code = true;
                if i > 0 && ident_char(b[i - 1]) {
                    i += 1;
                    continue;
                }
                let digits = b[i + 1..].iter().take_while(|d| d.is_ascii_digit()).count();
                if digits > 0 {
                    let number = text[i + 1..i + 1 + digits].parse().unwrap_or(usize::MAX);
                    scan.max_placeholder = scan.max_placeholder.max(number);
                    i += 1 + digits;
                    continue;
                }
                let tag_len = b[i + 1..]
                    .iter()
                    .enumerate()
                    .take_while(|(k, t)| tag_char(**t, *k == 0))
                    .count();
                if b.get(i + 1 + tag_len) == Some(&b'$') {
                    let tag = &text[i..i + tag_len + 2];
                    let body = i + tag.len();
                    match text[body..].find(tag) {
                        Some(at) => i = body + at + tag.len(),
                        None => {
                            scan.unterminated = Some("a dollar-quoted string");
                            i = n;
                        }
                    }
                    continue;
                }
            }
            b'(' => {
                code = true;
                depth += 1;
            }
            b')' => {
                code = true;
                depth = depth.saturating_sub(1);
            }
            b';' if depth == 0 => {
                push(&mut scan, text, start, i, code);
                (start, code) = (i + 1, false);
            }
            c if c.is_ascii_whitespace() => {}
            _ => code = true,
        }
        i += 1;
    }
    push(&mut scan, text, start, n, code);
    scan
}

/// The index after the closing quote of the quoted text opening at `i`
/// (a doubled quote is part of the text); `len + 1` when it never closes.
fn skip_quoted(b: &[u8], i: usize, quote: u8, backslash_escapes: bool) -> usize {
    let mut j = i + 1;
    while j < b.len() {
        if backslash_escapes && b[j] == b'\\' {
            j += 2;
        } else if b[j] == quote {
            if b.get(j + 1) == Some(&quote) {
                j += 2;
            } else {
                return j + 1;
            }
        } else {
            j += 1;
        }
    }
    b.len() + 1
}

fn push<'a>(scan: &mut Scan<'a>, text: &'a str, start: usize, end: usize, code: bool) {
    if !code {
        return;
    }
    let raw = &text[start..end.min(text.len())];
    let trimmed = raw.trim_start();
    scan.statements.push(Statement {
        text: trimmed.trim_end(),
        offset: start + (raw.len() - trimmed.len()),
    });
}

/// The 1-based line and column of the `position`-th character (1-based, as
/// PostgreSQL reports error positions) of `text`.
pub fn line_col(text: &str, position: usize) -> (usize, usize) {
    let before: String = text.chars().take(position.saturating_sub(1)).collect();
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(sql: &str) -> Vec<&str> {
        scan(sql).statements.iter().map(|s| s.text).collect()
    }

    #[test]
    fn splits_at_top_level_semicolons() {
        assert_eq!(
            texts("CREATE TABLE t (a int);\n  INSERT INTO t VALUES (1);\nVACUUM ANALYZE t"),
            [
                "CREATE TABLE t (a int)",
                "INSERT INTO t VALUES (1)",
                "VACUUM ANALYZE t"
            ]
        );
        assert_eq!(texts("select 1;;  ;\n-- only a comment\n"), ["select 1"]);
        assert_eq!(scan("  select 1; select 2").statements[1].offset, 12);
    }

    #[test]
    fn quotes_and_comments_hide_semicolons() {
        assert_eq!(
            texts("select 'a;b', \"c;d\" -- e;f\n; select 2"),
            ["select 'a;b', \"c;d\" -- e;f", "select 2"]
        );
        assert_eq!(
            texts("select 'it''s;'; select E'\\';'"),
            ["select 'it''s;'", "select E'\\';'"]
        );
        assert_eq!(
            texts("/* a; /* b; */ c; */ select 1; select 2"),
            ["/* a; /* b; */ c; */ select 1", "select 2"]
        );
        let body =
            "create function f() returns int as $body$ begin return 1; end $body$ language plpgsql";
        assert_eq!(
            texts(&format!("{body}; select $$;$$")),
            [body, "select $$;$$"]
        );
        assert_eq!(texts("create rule r as on insert to t do (insert into u values (1); insert into v values (2)); select 1").len(), 2);
    }

    #[test]
    fn placeholders() {
        assert_eq!(scan("select $1, $2 where a = $10").max_placeholder, 10);
        assert_eq!(scan("select '$3', $$ $4 $$, a$5 from t").max_placeholder, 0);
        assert_eq!(scan("select 1").max_placeholder, 0);
    }

    #[test]
    fn unterminated() {
        assert_eq!(scan("select 'abc").unterminated, Some("a quoted string"));
        assert_eq!(
            scan("select $x$ abc").unterminated,
            Some("a dollar-quoted string")
        );
        assert_eq!(scan("select 1 /* x").unterminated, Some("a /* comment"));
        assert_eq!(scan("select 1").unterminated, None);
    }

    #[test]
    fn positions() {
        assert_eq!(line_col("select *\nfrom nope", 15), (2, 6));
        assert_eq!(line_col("select x", 8), (1, 8));
    }
}
