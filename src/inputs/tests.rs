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
            message: "required, no value given".to_owned(),
        }]
    );
    assert_eq!(
        problems[0].to_string(),
        "input `version`: required, no value given"
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

    let problems = resolve_inputs(&decls, &text(&[("zzz", "1"), ("version", "1")])).unwrap_err();
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
            ("force", "required, no value given"),
        ]
    );
}
