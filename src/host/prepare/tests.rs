use super::*;

/// A secret name no environment sets.
const UNSET: &str = "STEWARD_PREPARE_TEST_UNSET_SECRET";

fn project(runbooks: &[(&str, &str)]) -> (tempfile::TempDir, Project) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("runbooks")).expect("runbooks/");
    for (name, text) in runbooks {
        std::fs::write(
            dir.path().join("runbooks").join(format!("{name}.yaml")),
            text,
        )
        .expect("write a runbook");
    }
    let project = Project::open(dir.path()).expect("open");
    (dir, project)
}

fn trigger() -> Trigger {
    Trigger {
        kind: "cli".into(),
        actor: "tester".into(),
        origin: None,
    }
}

fn request(runbook: &str, inputs: &[(&str, &str)]) -> Request {
    let mut request = Request::new(runbook, Lookup::NameOrPath, trigger());
    request.inputs = inputs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), RawInput::Text((*v).to_owned())))
        .collect();
    request
}

const DEPLOY: &str = r#"
inputs:
  version: { type: string, pattern: '\d+\.\d+\.\d+' }
  count: { type: int, default: 1 }
secrets: [STEWARD_PREPARE_TEST_UNSET_SECRET]
steps:
  - id: ship
    shell: echo {{ inputs.version }}
"#;

#[test]
fn every_problem_comes_back_at_once_typed() {
    let (_dir, project) = project(&[("deploy", DEPLOY)]);
    let mut request = request(
        "deploy",
        &[("version", "one"), ("count", "x"), ("nope", "1")],
    );
    request
        .unreadable
        .push("`-i oops` is not NAME=VALUE".into());
    let Err(PrepareError::Refused { runbook, problems }) = prepare(&project, request) else {
        panic!("expected a refusal");
    };
    assert_eq!(runbook, "deploy");
    let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert!(
        matches!(&problems[0], Problem::Unreadable(p) if p.contains("-i oops")),
        "{shown:?}"
    );
    let inputs: Vec<&str> = problems
        .iter()
        .filter_map(|p| match p {
            Problem::Input(i) => Some(i.input.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(inputs, ["nope", "version", "count"], "{shown:?}");
    assert!(
        matches!(problems.last(), Some(Problem::Secrets(SecretsError::Missing { names, .. })) if names == &[UNSET.to_owned()]),
        "{shown:?}"
    );
}

#[test]
fn a_valid_request_is_prepared_with_defaults_and_an_id() {
    let text = DEPLOY.replace("secrets: [STEWARD_PREPARE_TEST_UNSET_SECRET]\n", "");
    let (_dir, project) = project(&[("deploy", &text)]);
    let prepared = prepare(&project, request("deploy", &[("version", "1.2.3")])).unwrap();
    assert_eq!(prepared.plan.name, "deploy");
    assert_eq!(prepared.inputs["version"], "1.2.3");
    assert_eq!(prepared.inputs["count"], 1);
    assert_eq!(prepared.trigger.actor, "tester");
    assert!(uuid::Uuid::parse_str(&prepared.run_id).is_ok());
    assert!(prepared.parent.is_none());
}

#[test]
fn an_unknown_runbook_says_the_closest_name() {
    let (_dir, project) = project(&[("deploy", DEPLOY)]);
    match prepare(&project, request("deplyo", &[])) {
        Err(PrepareError::UnknownRunbook { name, hint, .. }) => {
            assert_eq!(name, "deplyo");
            assert_eq!(hint.as_deref(), Some("did you mean `deploy`?"));
        }
        other => panic!("{:?}", other.err()),
    }
}

#[test]
fn a_name_lookup_takes_no_path() {
    let (dir, project) = project(&[("deploy", DEPLOY)]);
    let path = dir.path().join("runbooks/deploy.yaml");
    let by_path = Request::new(path.display().to_string(), Lookup::Name, trigger());
    assert!(matches!(
        prepare(&project, by_path),
        Err(PrepareError::UnknownRunbook { hint: None, .. })
    ));
    let hidden = Request::new(".deploy", Lookup::Name, trigger());
    assert!(matches!(
        prepare(&project, hidden),
        Err(PrepareError::UnknownRunbook { .. })
    ));
}

#[test]
fn an_invalid_runbook_carries_its_diagnostics() {
    let (_dir, project) = project(&[("broken", "steps:\n  - id: a\n    nope: 1\n")]);
    match prepare(&project, request("broken", &[])) {
        Err(PrepareError::Invalid {
            runbook,
            report,
            with_inputs,
        }) => {
            assert_eq!(runbook, "broken");
            assert!(!report.diagnostics.is_empty());
            assert!(!with_inputs);
        }
        other => panic!("{:?}", other.err()),
    }
}

#[test]
fn typed_fields_compile_again_with_the_inputs_given() {
    let text = r#"
inputs:
  limit: { type: string, default: 5s }
steps:
  - id: a
    shell: "true"
    timeout: "{{ inputs.limit }}"
"#;
    let (_dir, project) = project(&[("typed", text)]);
    match prepare(&project, request("typed", &[("limit", "soon")])) {
        Err(PrepareError::Invalid { with_inputs, .. }) => assert!(with_inputs),
        other => panic!("{:?}", other.err()),
    }
    assert!(prepare(&project, request("typed", &[("limit", "2m")])).is_ok());
}
