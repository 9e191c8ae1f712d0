//! The committed JSON Schemas are what `steward schema` prints, the
//! repository's runbooks and step templates match them, and every one of
//! them compiles and is listed.

use std::fs;
use std::path::{Path, PathBuf};

use crate::support::{Test, repo, unindent};
use serde_json::{Map, Value};
use yaml_rust2::{Yaml, YamlLoader};

/// YAML (as yaml-rust2 reads it, the YAML 1.2 core schema) to JSON, the way
/// an editor's YAML language server checks a file against a schema.
fn yaml_to_json(yaml: &Yaml) -> Value {
    match yaml {
        Yaml::Null => Value::Null,
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Integer(i) => Value::from(*i),
        Yaml::Real(text) => text
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or_else(|| Value::String(text.clone()), Value::Number),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Array(items) => Value::Array(items.iter().map(yaml_to_json).collect()),
        Yaml::Hash(entries) => Value::Object(
            entries
                .iter()
                .map(|(k, v)| {
                    let key = match k {
                        Yaml::String(s) | Yaml::Real(s) => s.clone(),
                        Yaml::Integer(i) => i.to_string(),
                        Yaml::Boolean(b) => b.to_string(),
                        Yaml::Null => "null".to_owned(),
                        other => panic!("unsupported mapping key {other:?}"),
                    };
                    (key, yaml_to_json(v))
                })
                .collect::<Map<String, Value>>(),
        ),
        Yaml::Alias(_) | Yaml::BadValue => panic!("unsupported YAML value {yaml:?}"),
    }
}

fn read_yaml(path: &Path) -> Value {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let docs = YamlLoader::load_from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not YAML: {e}", path.display()));
    assert_eq!(docs.len(), 1, "{} holds one document", path.display());
    yaml_to_json(&docs[0])
}

/// The YAML files of a repository folder, sorted.
fn yaml_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(repo().join(dir))
        .unwrap_or_else(|e| panic!("read {dir}/: {e}"))
        .flatten()
        .map(|e| e.path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no YAML files in {dir}/");
    files
}

fn committed(file: &str) -> String {
    let path = repo().join("schema").join(file);
    fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "can't read {}: {e}\nGenerate it with `cargo run -q -- schema > schema/runbook.schema.json` \
             and `cargo run -q -- schema step-template > schema/step-template.schema.json`",
            path.display()
        )
    })
}

/// `steward ARGS` in the repository's root, which is a project itself.
fn in_repo(args: &[&str]) -> Test {
    Test::new()
        .current_dir(repo())
        .find_project()
        .env("NO_COLOR", "1")
        .args(args)
}

/// Compares `steward schema ARGS` with the committed file.
fn assert_schema_is_current(args: &[&str], file: &str) {
    let generated = in_repo(args).run().stdout;
    let committed = committed(file);
    if generated != committed {
        let first_difference = generated
            .lines()
            .zip(committed.lines())
            .position(|(a, b)| a != b)
            .map_or_else(
                || "one is a prefix of the other".to_owned(),
                |i| format!("first difference at line {}", i + 1),
            );
        panic!(
            "schema/{file} is out of date ({first_difference}): the runbook format changed.\n\
             Regenerate it with:\n    cargo run -q -- {} > schema/{file}\n\
             and commit it (editors validate runbooks with it).",
            args.join(" ")
        );
    }
}

fn validator(file: &str) -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(&committed(file))
        .unwrap_or_else(|e| panic!("schema/{file} is not JSON: {e}"));
    jsonschema::validator_for(&schema)
        .unwrap_or_else(|e| panic!("schema/{file} is not a valid JSON Schema: {e}"))
}

fn problems(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| format!("{} at `{}`", e, e.instance_path))
        .collect()
}

#[test]
fn runbook_schema_is_committed_and_current() {
    assert_schema_is_current(&["schema"], "runbook.schema.json");
}

#[test]
fn step_template_schema_is_committed_and_current() {
    assert_schema_is_current(&["schema", "step-template"], "step-template.schema.json");
}

#[test]
fn repository_runbooks_match_the_schema() {
    let validator = validator("runbook.schema.json");
    for path in yaml_files("runbooks") {
        let found = problems(&validator, &read_yaml(&path));
        assert!(
            found.is_empty(),
            "{} doesn't match schema/runbook.schema.json:\n{}",
            path.display(),
            found.join("\n")
        );
    }
}

#[test]
fn repository_step_templates_match_the_schema() {
    let validator = validator("step-template.schema.json");
    for path in yaml_files("steps") {
        let found = problems(&validator, &read_yaml(&path));
        assert!(
            found.is_empty(),
            "{} doesn't match schema/step-template.schema.json:\n{}",
            path.display(),
            found.join("\n")
        );
    }
}

#[test]
fn schemas_reject_what_the_compiler_rejects() {
    let runbook = validator("runbook.schema.json");
    let template = validator("step-template.schema.json");
    let parse = |text: &str| yaml_to_json(&YamlLoader::load_from_str(text).unwrap()[0]);

    let ok = parse(&unindent(
        r#"
        steps:
          - id: a
            shell: echo a
            retry: { attempts: 3, delay: 1s }
        "#,
    ));
    assert_eq!(problems(&runbook, &ok), Vec::<String>::new());
    for bad in [
        // An unknown key, top-level and in a step.
        r#"playbook: x
steps: []
"#,
        r#"steps:
  - id: a
    neds: []
    shell: echo a
"#,
        // Wrong shapes.
        "steps: { id: a }\n",
        r#"steps:
  - id: a
    needs: a
    shell: x
"#,
        r#"inputs:
  n: { type: int, required: maybe }
"#,
        r#"steps:
  - id: a
    retry: { attempts: 3, delya: 1s }
    shell: x
"#,
    ] {
        assert!(
            !problems(&runbook, &parse(bad)).is_empty(),
            "the runbook schema accepts:\n{bad}"
        );
    }
    assert!(
        !problems(&template, &parse("params: {}\n")).is_empty(),
        "`step` is required"
    );
    assert!(
        !problems(
            &template,
            &parse(&unindent(
                r#"
                step: { shell: x }
                parms: {}
                "#
            ))
        )
        .is_empty(),
        "unknown template key"
    );
}

#[test]
fn every_runbook_and_template_in_the_repository_compiles() {
    let out = in_repo(&["validate"]).stdout("").run();
    let runbooks = yaml_files("runbooks").len();
    let templates = yaml_files("steps").len();
    let plural = |n: usize, word: &str| {
        if n == 1 {
            format!("{n} {word}")
        } else {
            format!("{n} {word}s")
        }
    };
    assert_eq!(
        out.stderr.trim_end(),
        format!(
            "ok: {} and {} valid",
            plural(runbooks, "runbook"),
            plural(templates, "step template")
        ),
    );
}

#[test]
fn list_shows_every_runbook_with_its_inputs() {
    let listed = in_repo(&["list", "--output", "json"]).run().stdout_json();
    let listed = listed.as_array().expect("a JSON list");
    let files = yaml_files("runbooks");
    assert_eq!(listed.len(), files.len(), "{listed:#?}");
    for path in files {
        let spec = read_yaml(&path);
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        let name = spec["name"].as_str().unwrap_or(&stem);
        let entry = listed
            .iter()
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("runbook `{name}` is not listed: {listed:#?}"));
        assert_eq!(
            entry["path"].as_str().map(|p| p.replace('\\', "/")),
            Some(format!(
                "runbooks/{}",
                path.file_name().unwrap().to_string_lossy()
            )),
        );
        if let Some(description) = spec["description"].as_str() {
            assert_eq!(entry["description"], description);
        }
        let declared: Vec<(&String, &Value)> = spec["inputs"]
            .as_object()
            .map(|m| m.iter().collect())
            .unwrap_or_default();
        let inputs = entry["inputs"].as_array().expect("inputs is a list");
        let names: Vec<&str> = inputs.iter().filter_map(|i| i["name"].as_str()).collect();
        let expected: Vec<&str> = declared.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, expected, "inputs of `{name}`, in file order");
        for ((input, decl), listed) in declared.iter().zip(inputs) {
            let kind = match decl["type"].as_str().unwrap_or("string") {
                "integer" => "int",
                "float" => "number",
                "boolean" => "bool",
                other => other,
            };
            assert_eq!(listed["type"], kind, "type of input `{input}` of `{name}`");
            if !decl["default"].is_null() {
                assert_eq!(
                    listed["default"], decl["default"],
                    "default of `{input}` of `{name}`"
                );
                assert_eq!(listed["required"], false);
            }
        }
    }
}
