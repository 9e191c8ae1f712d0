//! Validating a run request's inputs against the runbook's declarations.
//! Every trigger (CLI, API, chat, webhook, schedule) goes through here.

use indexmap::IndexMap;
use regex::Regex;
use serde::Serialize;

use crate::diagnostic::did_you_mean;
use crate::plan::{InputDecl, InputType};

/// An input value as it arrives.
#[derive(Debug, Clone, PartialEq)]
pub enum RawInput {
    /// Text, from `-i name=value` or a chat command: converted to the type.
    Text(String),
    /// A JSON value, from the API: must have the type (or be text that converts).
    Json(serde_json::Value),
}

/// One problem with a run request's inputs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InputProblem {
    /// The input it concerns.
    pub input: String,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for InputProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "input `{}`: {}", self.input, self.message)
    }
}

/// Checks and converts `raw` against `decls`, filling in defaults.
/// Returns every problem at once.
pub fn resolve_inputs(
    decls: &IndexMap<String, InputDecl>,
    raw: &IndexMap<String, RawInput>,
) -> Result<IndexMap<String, serde_json::Value>, Vec<InputProblem>> {
    let mut problems = Vec::new();
    for name in raw.keys() {
        if !decls.contains_key(name) {
            let near = did_you_mean(name, decls.keys().map(String::as_str));
            let message = match (near, decls.is_empty()) {
                (Some(near), _) => format!("no such input; did you mean `{near}`?"),
                (None, true) => "no such input; this runbook takes no inputs".to_owned(),
                (None, false) => format!(
                    "no such input; the inputs are: {}",
                    decls.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            };
            problems.push(InputProblem {
                input: name.clone(),
                message,
            });
        }
    }
    let mut values = IndexMap::new();
    for (name, decl) in decls {
        let value = match raw.get(name) {
            Some(RawInput::Text(text)) => convert_text(decl.kind, text),
            Some(RawInput::Json(serde_json::Value::String(text))) => convert_text(decl.kind, text),
            Some(RawInput::Json(value)) => Ok(value.clone()),
            None => match &decl.default {
                Some(default) => {
                    values.insert(name.clone(), default.clone());
                    continue;
                }
                None if decl.required => {
                    problems.push(InputProblem {
                        input: name.clone(),
                        message: format!("required, no value given (-i {name}=…)"),
                    });
                    continue;
                }
                None => {
                    values.insert(name.clone(), serde_json::Value::Null);
                    continue;
                }
            },
        };
        match value.and_then(|v| check_value(decl, &v)) {
            Ok(v) => {
                values.insert(name.clone(), v);
            }
            Err(message) => problems.push(InputProblem {
                input: name.clone(),
                message,
            }),
        }
    }
    if problems.is_empty() {
        Ok(values)
    } else {
        Err(problems)
    }
}

fn convert_text(kind: InputType, text: &str) -> Result<serde_json::Value, String> {
    let trimmed = text.trim();
    match kind {
        InputType::String => Ok(serde_json::Value::String(text.to_owned())),
        InputType::Int => trimmed
            .parse::<i64>()
            .map(serde_json::Value::from)
            .map_err(|_| format!("expected an int, got `{text}`")),
        InputType::Number => trimmed
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .and_then(|f| {
                trimmed
                    .parse::<i64>()
                    .map(serde_json::Value::from)
                    .ok()
                    .or_else(|| serde_json::Number::from_f64(f).map(serde_json::Value::Number))
            })
            .ok_or_else(|| format!("expected a number, got `{text}`")),
        InputType::Bool => match trimmed.to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" | "on" => Ok(true.into()),
            "false" | "no" | "0" | "off" => Ok(false.into()),
            _ => Err(format!("expected true or false, got `{text}`")),
        },
    }
}

/// Checks a typed value against a declaration: type, enum, pattern.
pub fn check_value(
    decl: &InputDecl,
    value: &serde_json::Value,
) -> Result<serde_json::Value, String> {
    use serde_json::Value as J;
    let fits = match (decl.kind, value) {
        (InputType::String, J::String(_)) | (InputType::Bool, J::Bool(_)) => true,
        (InputType::Int, J::Number(n)) => n.is_i64() || n.is_u64(),
        (InputType::Number, J::Number(_)) => true,
        _ => false,
    };
    if !fits {
        return Err(format!(
            "expected {}, got {}",
            article(decl.kind),
            describe(value)
        ));
    }
    if let Some(allowed) = &decl.allowed {
        if !allowed.iter().any(|a| numeric_eq(a, value)) {
            let list: Vec<String> = allowed.iter().map(|a| a.to_string()).collect();
            return Err(format!("{value} is not one of {}", list.join(", ")));
        }
    }
    if let (Some(pattern), J::String(text)) = (&decl.pattern, value) {
        let re = full_match(pattern).map_err(|e| format!("bad pattern: {e}"))?;
        if !re.is_match(text) {
            return Err(format!("`{text}` doesn't match the pattern `{pattern}`"));
        }
    }
    Ok(value.clone())
}

fn numeric_eq(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// A pattern that must match the whole value.
pub fn full_match(pattern: &str) -> Result<Regex, String> {
    Regex::new(&format!("^(?:{pattern})$")).map_err(|e| e.to_string())
}

fn article(kind: InputType) -> &'static str {
    match kind {
        InputType::String => "a string",
        InputType::Int => "an int",
        InputType::Number => "a number",
        InputType::Bool => "a bool",
    }
}

fn describe(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => "null".into(),
        serde_json::Value::Bool(b) => format!("the bool {b}"),
        serde_json::Value::Number(n) => format!("the number {n}"),
        serde_json::Value::String(s) => format!("the string {s:?}"),
        serde_json::Value::Array(_) => "a list".into(),
        serde_json::Value::Object(_) => "a mapping".into(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn decl(kind: InputType) -> InputDecl {
        InputDecl {
            kind,
            description: None,
            default: None,
            required: true,
            allowed: None,
            pattern: None,
        }
    }

    fn decls(list: Vec<(&str, InputDecl)>) -> IndexMap<String, InputDecl> {
        list.into_iter().map(|(n, d)| (n.to_owned(), d)).collect()
    }

    fn text(list: &[(&str, &str)]) -> IndexMap<String, RawInput> {
        list.iter()
            .map(|(n, v)| ((*n).to_owned(), RawInput::Text((*v).to_owned())))
            .collect()
    }

    fn api(list: Vec<(&str, serde_json::Value)>) -> IndexMap<String, RawInput> {
        list.into_iter()
            .map(|(n, v)| (n.to_owned(), RawInput::Json(v)))
            .collect()
    }

    /// The one value of a single-input runbook, or its problem.
    fn one(d: InputDecl, raw: RawInput) -> Result<serde_json::Value, String> {
        let decls = decls(vec![("x", d)]);
        let raw = IndexMap::from([("x".to_owned(), raw)]);
        match resolve_inputs(&decls, &raw) {
            Ok(values) => Ok(values["x"].clone()),
            Err(problems) => {
                assert_eq!(problems.len(), 1, "{problems:?}");
                assert_eq!(problems[0].input, "x");
                Err(problems[0].message.clone())
            }
        }
    }

    fn cli(d: InputDecl, value: &str) -> Result<serde_json::Value, String> {
        one(d, RawInput::Text(value.to_owned()))
    }

    #[test]
    fn cli_text_is_converted_to_the_declared_type() {
        assert_eq!(cli(decl(InputType::Int), "42"), Ok(json!(42)));
        assert_eq!(cli(decl(InputType::Int), " -7 "), Ok(json!(-7)));
        assert_eq!(cli(decl(InputType::Number), "2.5"), Ok(json!(2.5)));
        // A whole number stays an integer, so `{{ inputs.x }}` prints `3`.
        assert_eq!(cli(decl(InputType::Number), "3"), Ok(json!(3)));
        for yes in ["true", "TRUE", "yes", "1", "on"] {
            assert_eq!(cli(decl(InputType::Bool), yes), Ok(json!(true)), "{yes}");
        }
        for no in ["false", "No", "0", "off"] {
            assert_eq!(cli(decl(InputType::Bool), no), Ok(json!(false)), "{no}");
        }
        // Strings are taken as they are, spaces included.
        assert_eq!(cli(decl(InputType::String), " 1.0 "), Ok(json!(" 1.0 ")));
        assert_eq!(cli(decl(InputType::String), ""), Ok(json!("")));
    }

    #[test]
    fn cli_text_that_does_not_convert() {
        assert_eq!(
            cli(decl(InputType::Int), "3.5"),
            Err("expected an int, got `3.5`".to_owned())
        );
        assert_eq!(
            cli(decl(InputType::Int), "99999999999999999999"),
            Err("expected an int, got `99999999999999999999`".to_owned())
        );
        assert_eq!(
            cli(decl(InputType::Number), "many"),
            Err("expected a number, got `many`".to_owned())
        );
        for not_finite in ["inf", "NaN", "1e999"] {
            assert!(
                cli(decl(InputType::Number), not_finite).is_err(),
                "{not_finite}"
            );
        }
        assert_eq!(
            cli(decl(InputType::Bool), "maybe"),
            Err("expected true or false, got `maybe`".to_owned())
        );
    }

    #[test]
    fn api_json_values_must_have_the_type() {
        let api_one = |d: InputDecl, v: serde_json::Value| one(d, RawInput::Json(v));
        assert_eq!(api_one(decl(InputType::Int), json!(5)), Ok(json!(5)));
        assert_eq!(
            api_one(decl(InputType::Number), json!(0.25)),
            Ok(json!(0.25))
        );
        assert_eq!(
            api_one(decl(InputType::Bool), json!(false)),
            Ok(json!(false))
        );
        assert_eq!(
            api_one(decl(InputType::String), json!("v1")),
            Ok(json!("v1"))
        );
        // Text that converts is accepted from the API too (chat, forms).
        assert_eq!(api_one(decl(InputType::Int), json!("12")), Ok(json!(12)));
        assert_eq!(
            api_one(decl(InputType::Bool), json!("yes")),
            Ok(json!(true))
        );
        // A JSON value of another type is not.
        assert_eq!(
            api_one(decl(InputType::Int), json!(1.5)),
            Err("expected an int, got the number 1.5".to_owned())
        );
        assert_eq!(
            api_one(decl(InputType::String), json!(12)),
            Err("expected a string, got the number 12".to_owned())
        );
        assert_eq!(
            api_one(decl(InputType::Bool), json!(1)),
            Err("expected a bool, got the number 1".to_owned())
        );
        assert_eq!(
            api_one(decl(InputType::String), json!(["a"])),
            Err("expected a string, got a list".to_owned())
        );
        assert_eq!(
            api_one(decl(InputType::Int), json!({"n": 1})),
            Err("expected an int, got a mapping".to_owned())
        );
        assert_eq!(
            api_one(decl(InputType::String), serde_json::Value::Null),
            Err("expected a string, got null".to_owned())
        );
    }

    #[test]
    fn enum_values() {
        let env = InputDecl {
            allowed: Some(vec![json!("staging"), json!("production")]),
            ..decl(InputType::String)
        };
        assert_eq!(cli(env.clone(), "staging"), Ok(json!("staging")));
        assert_eq!(
            cli(env, "prod"),
            Err(r#""prod" is not one of "staging", "production""#.to_owned())
        );
        // Numbers compare by value: 2 and 2.0 are the same.
        let size = InputDecl {
            allowed: Some(vec![json!(1), json!(2), json!(4)]),
            ..decl(InputType::Number)
        };
        assert_eq!(cli(size.clone(), "2.0"), Ok(json!(2.0)));
        assert_eq!(one(size.clone(), RawInput::Json(json!(4))), Ok(json!(4)));
        assert_eq!(cli(size, "3"), Err("3 is not one of 1, 2, 4".to_owned()));
    }

    #[test]
    fn pattern_must_match_the_whole_value() {
        let version = InputDecl {
            pattern: Some(r"v?\d+\.\d+\.\d+".to_owned()),
            ..decl(InputType::String)
        };
        assert_eq!(cli(version.clone(), "v1.2.3"), Ok(json!("v1.2.3")));
        assert_eq!(cli(version.clone(), "1.2.3"), Ok(json!("1.2.3")));
        assert_eq!(
            cli(version.clone(), "1.2.3; rm -rf /"),
            Err(r"`1.2.3; rm -rf /` doesn't match the pattern `v?\d+\.\d+\.\d+`".to_owned())
        );
        assert!(cli(version, "x1.2.3").is_err(), "anchored at the start too");
        // An alternation is anchored as a whole, not only its first branch.
        let either = InputDecl {
            pattern: Some("a|b".to_owned()),
            ..decl(InputType::String)
        };
        assert!(cli(either.clone(), "b").is_ok());
        assert!(cli(either, "ab").is_err());
    }

    #[test]
    fn required_and_missing() {
        let decls = decls(vec![
            ("version", decl(InputType::String)),
            (
                "note",
                InputDecl {
                    required: false,
                    ..decl(InputType::String)
                },
            ),
        ]);
        let problems = resolve_inputs(&decls, &text(&[])).unwrap_err();
        assert_eq!(
            problems,
            vec![InputProblem {
                input: "version".to_owned(),
                message: "required, no value given (-i version=…)".to_owned(),
            }]
        );
        assert_eq!(
            problems[0].to_string(),
            "input `version`: required, no value given (-i version=…)"
        );
        // An optional input without a default is null.
        let values = resolve_inputs(&decls, &text(&[("version", "1.0")])).unwrap();
        assert_eq!(values["version"], json!("1.0"));
        assert_eq!(values["note"], serde_json::Value::Null);
    }

    #[test]
    fn defaults_are_applied_and_given_values_win() {
        let decls = decls(vec![
            (
                "env",
                InputDecl {
                    default: Some(json!("staging")),
                    required: false,
                    ..decl(InputType::String)
                },
            ),
            (
                "shards",
                InputDecl {
                    default: Some(json!(3)),
                    required: false,
                    ..decl(InputType::Int)
                },
            ),
        ]);
        let values = resolve_inputs(&decls, &text(&[])).unwrap();
        assert_eq!(
            values,
            IndexMap::from([
                ("env".to_owned(), json!("staging")),
                ("shards".to_owned(), json!(3)),
            ])
        );
        let values = resolve_inputs(&decls, &text(&[("shards", "8")])).unwrap();
        assert_eq!(values["env"], json!("staging"));
        assert_eq!(values["shards"], json!(8));
        // In declaration order, whatever order they were given in.
        let values = resolve_inputs(
            &decls,
            &api(vec![("shards", json!(1)), ("env", json!("production"))]),
        )
        .unwrap();
        assert_eq!(values.keys().collect::<Vec<_>>(), ["env", "shards"]);
    }

    #[test]
    fn unknown_inputs_suggest_the_closest_name() {
        let decls = decls(vec![
            ("version", decl(InputType::String)),
            (
                "env",
                InputDecl {
                    default: Some(json!("staging")),
                    required: false,
                    ..decl(InputType::String)
                },
            ),
        ]);
        let problems =
            resolve_inputs(&decls, &text(&[("verison", "1"), ("version", "1")])).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].input, "verison");
        assert_eq!(
            problems[0].message,
            "no such input; did you mean `version`?"
        );

        let problems =
            resolve_inputs(&decls, &text(&[("zzz", "1"), ("version", "1")])).unwrap_err();
        assert_eq!(
            problems[0].message,
            "no such input; the inputs are: version, env"
        );

        let problems = resolve_inputs(&IndexMap::new(), &text(&[("x", "1")])).unwrap_err();
        assert_eq!(
            problems[0].message,
            "no such input; this runbook takes no inputs"
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let decls = decls(vec![
            (
                "version",
                InputDecl {
                    pattern: Some(r"\d+\.\d+".to_owned()),
                    ..decl(InputType::String)
                },
            ),
            ("count", decl(InputType::Int)),
            (
                "env",
                InputDecl {
                    allowed: Some(vec![json!("staging"), json!("production")]),
                    ..decl(InputType::String)
                },
            ),
            ("force", decl(InputType::Bool)),
            ("ok", decl(InputType::Number)),
        ]);
        let raw = text(&[
            ("version", "latest"),
            ("count", "three"),
            ("env", "qa"),
            ("ok", "1.5"),
            ("dry_run", "true"),
            ("cuont", "3"),
        ]);
        let problems = resolve_inputs(&decls, &raw).unwrap_err();
        let found: Vec<(&str, &str)> = problems
            .iter()
            .map(|p| (p.input.as_str(), p.message.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                (
                    "dry_run",
                    "no such input; the inputs are: version, count, env, force, ok"
                ),
                ("cuont", "no such input; did you mean `count`?"),
                ("version", r"`latest` doesn't match the pattern `\d+\.\d+`"),
                ("count", "expected an int, got `three`"),
                ("env", r#""qa" is not one of "staging", "production""#),
                ("force", "required, no value given (-i force=…)"),
            ]
        );
    }
}
