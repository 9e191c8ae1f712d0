//! `steward list`: text and JSON, and invalid runbooks left out.

use super::*;

#[test]
fn list_text() {
    let project = project();
    let text = ok(&project.steward_here(&["list"])).to_owned();
    let expected = "\
hello
    Say hello.
release
    Build, test in parallel, publish.
    -i version: string (required)
    -i env: string = \"staging\" one of \"staging\", \"production\"
    -i shards: int = 2
    trigger: chat /runbook ship
";
    assert_eq!(text, expected);
}

#[test]
fn list_json() {
    let project = project();
    let list = json(ok(&project.steward_here(&["list", "--output", "json"])));
    let list = list.as_array().expect("a list");
    let names: Vec<&str> = list.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["hello", "release"]);
    let release = &list[1];
    assert_eq!(release["description"], "Build, test in parallel, publish.");
    assert_eq!(release["path"], "runbooks/release.yaml");
    assert_eq!(release["steps"], 6);
    assert_eq!(release["triggers"]["chat"]["command"], "ship");
    let inputs = release["inputs"].as_array().unwrap();
    assert_eq!(
        inputs[0],
        serde_json::json!({
            "name": "version",
            "type": "string",
            "description": "The version to release.",
            "default": null,
            "required": true,
            "enum": null,
            "pattern": "^\\d+\\.\\d+\\.\\d+$",
        })
    );
    assert_eq!(
        inputs[1]["enum"],
        serde_json::json!(["staging", "production"])
    );
    assert_eq!(inputs[1]["default"], "staging");
    assert_eq!(inputs[1]["required"], false);
    assert_eq!(inputs[2]["type"], "int");
    assert_eq!(inputs[2]["default"], 2);
    assert_eq!(list[0]["inputs"], serde_json::json!([]));
}

#[test]
fn list_leaves_out_invalid_runbooks_and_says_so() {
    let project = project();
    project.runbook(
        "broken",
        &unindent(
            r#"
            steps:
              - id: a
                neds: []
                shell: x
            "#,
        ),
    );
    let out = project.steward_here(&["list"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stdout.contains("hello\n"), "{}", out.stdout);
    assert!(!out.stdout.contains("broken"), "{}", out.stdout);
    assert!(
        out.stderr.contains("1 invalid runbook left out"),
        "{}",
        out.stderr
    );
}
