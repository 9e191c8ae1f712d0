//! Secrets: from the environment or an owner-only secrets file, and masked
//! as `***` everywhere they could leak: terminal, JSON report, audit trail,
//! error messages, also after passing through a step's output.

use std::os::unix::fs::PermissionsExt;

use crate::support::{Project, unindent, unique};

fn assert_never_in(haystack: &str, needle: &str) {
    if let Some(at) = haystack.find(needle) {
        let from = haystack[..at]
            .char_indices()
            .rev()
            .nth(80)
            .map_or(0, |(i, _)| i);
        panic!(
            "the secret `{needle}` leaked: …{}…",
            &haystack[from..(at + needle.len() + 40).min(haystack.len())]
        );
    }
}

const LEAKY: &str = r#"
secrets: [API_TOKEN]
inputs:
  note: { type: string, default: "-" }
env:
  TOKEN: "{{ secrets.API_TOKEN }}"
steps:
  - id: leak
    shell: |
      echo "token={{ secrets.API_TOKEN }}"
      echo "from env: pre${TOKEN}post" >&2
      printf '%s' "$TOKEN" > received.txt
  - id: as_json
    shell: |
      printf '{"auth": "Bearer %s"}\n' "$TOKEN"
    outputs:
      header: "{{ result.json.auth }}"
  - id: fails
    continue_on_error: true
    shell: echo "login failed for $TOKEN" >&2; exit 3
outputs:
  header: "{{ steps.as_json.outputs.header }}"
  raw: "{{ secrets.API_TOKEN }}"
"#;

#[test]
fn a_secret_from_the_environment_is_masked_everywhere() {
    let secret = unique("tok-3nv");
    let p = Project::with_runbook("leaky", LEAKY);
    for args in [&["--output", "json"][..], &[][..]] {
        let mut all_args = args.to_vec();
        let note = format!("note={secret}");
        all_args.extend(["-i", &note]);
        let out = p.run_with("leaky", &all_args, |t| t.env("API_TOKEN", &secret));
        out.expect_code(0);
        assert_eq!(
            p.read("received.txt"),
            secret,
            "the step gets the real value"
        );
        assert_never_in(&p.everything(&out), &secret);
        assert!(out.all_output().contains("***"));
        if let Some(report) = &out.json {
            let leak = &report["steps"]["leak"]["result"];
            assert_eq!(leak["stdout"], "token=***\n");
            assert_eq!(leak["stderr"], "from env: pre***post\n");
            assert_eq!(report["outputs"]["header"], "Bearer ***");
            assert_eq!(report["outputs"]["raw"], "***");
            assert_eq!(report["inputs"]["note"], "***", "inputs are redacted");
            let error = report["steps"]["fails"]["error"].as_str().unwrap();
            assert!(error.contains("login failed for ***"), "{error}");
        } else {
            assert!(out.stdout.contains("header=Bearer ***"), "{}", out.stdout);
            assert!(out.stderr.contains("leak | token=***"), "{}", out.stderr);
        }
    }
}

#[test]
fn a_secret_needing_shell_quotes_is_masked_in_the_rendered_script() {
    // Quoted into a script, `it's` becomes `'it'\''s'`: that form must not
    // show in the terminal, the audit trail or the dry run either.
    let marker = unique("s3cr3t");
    let secret = format!("it's a \"{marker}\" & more");
    let p = Project::with_runbook(
        "quoted",
        r#"
secrets: [PASSWORD]
steps:
  - id: use
    shell: |
      printf '%s' {{ secrets.PASSWORD }} > received.txt
      echo "prefix-{{ secrets.PASSWORD }}" > /dev/null
"#,
    );
    let out = p.run_with("quoted", &["--output", "json"], |t| {
        t.env("PASSWORD", &secret)
    });
    out.expect_code(0);
    assert_eq!(p.read("received.txt"), secret);
    assert_never_in(&p.everything(&out), &marker);

    let dry = p.run_with("quoted", &["--dry-run"], |t| t.env("PASSWORD", &secret));
    dry.expect_code(0);
    assert_never_in(&dry.all_output(), &marker);
    assert!(dry.stdout.contains("***"), "{}", dry.stdout);
}

#[test]
fn secrets_come_from_an_owner_only_file_and_the_environment_wins() {
    let from_file = unique("fil3-secret");
    let p = Project::with_runbook(
        "filed",
        r#"
secrets: [FILE_TOKEN, BOTH_TOKEN]
steps:
  - id: use
    shell: |
      printf '%s' {{ secrets.FILE_TOKEN }} > file.txt
      printf '%s' {{ secrets.BOTH_TOKEN }} > both.txt
      echo "{{ secrets.FILE_TOKEN }}"
"#,
    );
    let file = p.write(
        "secrets.env",
        &format!("# test secrets\nFILE_TOKEN={from_file}\nexport BOTH_TOKEN='from the file'\n"),
    );
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = p.run_with(
        "filed",
        &["--output", "json", "--secrets-file", file.to_str().unwrap()],
        |t| t.env("BOTH_TOKEN", "from-env"),
    );
    out.expect_code(0);
    assert_eq!(p.read("file.txt"), from_file);
    assert_eq!(
        p.read("both.txt"),
        "from-env",
        "the environment wins over the file"
    );
    assert_eq!(out.step("use")["result"]["stdout"], "***\n");
    assert_never_in(&p.everything(&out), &from_file);

    // The same file named by steward.yaml.
    p.write("steward.yaml", "secrets_file: secrets.env\n");
    let out = p.run_with("filed", &["--output", "json"], |t| {
        t.env("BOTH_TOKEN", "from-env")
    });
    out.expect_code(0);
    assert_eq!(out.step("use")["result"]["stdout"], "***\n");
}

#[test]
fn a_secrets_file_others_can_read_is_refused() {
    let p = Project::with_runbook(
        "filed",
        &unindent(
            r#"
            secrets: [FILE_TOKEN]
            steps:
              - id: use
                shell: touch ran.marker
            "#,
        ),
    );
    let file = p.write("secrets.env", "FILE_TOKEN=abcdef123\n");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = p.run_with("filed", &["--secrets-file", file.to_str().unwrap()], |t| t);
    out.expect_code(2);
    assert!(out.stderr.contains("chmod 600"), "{}", out.stderr);
    assert!(out.stderr.contains("secrets.env"), "{}", out.stderr);
    assert!(!out.stderr.contains("abcdef123"));
    assert!(!p.exists("ran.marker"), "nothing runs");
    assert!(p.run_ids().is_empty());
}
