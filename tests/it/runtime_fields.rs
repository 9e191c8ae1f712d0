//! Fields that may be templates rendered when the step runs, so that a
//! runbook can take them as inputs: an `approval`'s `timeout`, an email's
//! `port` and `tls`; and an email `username` that renders empty means no
//! login.

use crate::support::net::smtp::SmtpServer;
use crate::support::{self, Project, unindent};

const GATE: &str = r#"
inputs:
  wait: { type: string, default: "" }
steps:
  - id: gate
    approval: { message: go?, timeout: "{{ inputs.wait }}" }
  - id: after
    shell: touch after
"#;

#[test]
fn an_approval_timeout_can_come_from_an_input() {
    let p = Project::with_runbook("gate", GATE);
    let out = p.run_json("gate", &["-i", "wait=300ms"]);
    out.expect_code(1);
    assert_eq!(out.error("gate"), "no decision within 300ms");
    assert!(!p.exists("after"));

    // Not a duration: the step fails before asking anyone.
    let out = p.run_json("gate", &["-i", "wait=soon"]);
    out.expect_code(1);
    assert!(
        out.error("gate")
            .starts_with("timeout: bad duration: `soon` is not a duration"),
        "{}",
        out.error("gate")
    );
    assert!(
        !p.audit_events(&out.run_id())
            .iter()
            .any(|e| e["event"] == "approval_requested"),
        "nobody was asked"
    );

    // Empty: no limit (here pre-approved).
    let out = p.run_json("gate", &["--yes"]);
    out.expect_code(0);
    assert!(p.exists("after"));
}

#[test]
fn a_templated_approval_timeout_is_checked_when_compiled() {
    let p = Project::with_runbook(
        "gate",
        &unindent(
            r#"
            steps:
              - id: gate
                approval: { message: go?, timeout: "{{ inputs.wiat }}" }
            "#,
        ),
    );
    p.runbook(
        "literal",
        &unindent(
            r#"
            steps:
              - id: gate
                approval: { message: go?, timeout: soon }
            "#,
        ),
    );
    let out = p.steward(&["validate"]);
    out.expect_code(2);
    assert!(out.stderr.contains("inputs.wiat"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("bad duration: `soon` is not a duration"),
        "a literal is still checked: {}",
        out.stderr
    );
}

const MAIL: &str = r#"
secrets: [SMTP_PASSWORD]
inputs:
  port: { type: string, default: "" }
  tls: { type: string, default: starttls }
  user: { type: string, default: "" }
  server: { type: string, default: 127.0.0.1 }
steps:
  - id: mail
    notify:
      email:
        to: ops@example.com
        from: steward@example.com
        server: "{{ inputs.server }}"
        port: "{{ inputs.port }}"
        tls: "{{ inputs.tls }}"
        username: "{{ inputs.user }}"
        password: "{{ secrets.SMTP_PASSWORD }}"
      text: the relay comes from the inputs
"#;

fn mail(p: &Project, args: &[&str]) -> support::Outcome {
    let mut all = vec!["--output", "json"];
    all.extend_from_slice(args);
    p.run_with("mail", &all, |t| t.env("SMTP_PASSWORD", "pw-Smtp-4411"))
}

#[test]
fn an_email_port_and_tls_can_come_from_inputs() {
    let smtp = SmtpServer::start(None);
    let p = Project::with_runbook("mail", MAIL);
    let port = format!("port={}", smtp.port);
    mail(&p, &["-i", &port, "-i", "tls=none"]).expect_code(0);
    mail(&p, &["-i", &port, "-i", "tls=NONE", "-i", "user=ops"]).expect_code(0);
    let mails = smtp.mails();
    assert_eq!(mails.len(), 2);
    assert_eq!(mails[0].auth, None, "an empty username: no login");
    assert_eq!(mails[1].auth.as_deref(), Some("ops:pw-Smtp-4411"));
    assert!(mails[0].body().contains("the relay comes from the inputs"));

    let out = mail(&p, &["-i", "port=twenty-five", "-i", "tls=none"]);
    out.expect_code(1);
    assert_eq!(
        out.error("mail"),
        "`port` is `twenty-five`, not a port number (1 to 65535)"
    );
    let out = mail(&p, &["-i", &port, "-i", "tls=plain"]);
    out.expect_code(1);
    assert_eq!(
        out.error("mail"),
        "`tls` is `plain`, not one of: starttls, tls, none"
    );
    // Plain SMTP stays refused beyond loopback.
    let out = mail(&p, &["-i", "server=mail.example.com", "-i", "tls=none"]);
    out.expect_code(1);
    assert!(
        out.error("mail")
            .starts_with("plain SMTP (`tls: none`) is allowed only to a loopback server"),
        "{}",
        out.error("mail")
    );
    // An empty port is the mode's usual one.
    let dry = p.run_with("mail", &["--dry-run", "-i", "tls=none"], |t| {
        t.env("SMTP_PASSWORD", "x-pw-1")
    });
    dry.expect_code(0);
    assert!(
        dry.stdout
            .contains("email to ops@example.com via 127.0.0.1:25"),
        "{}",
        dry.stdout
    );
}
