//! E-mail: plain SMTP on loopback, STARTTLS with a test CA, and plain SMTP
//! refused beyond loopback.

use super::*;

fn email_runbook(port: u16, tls: &str, extra: &str) -> String {
    format!(
        r#"
secrets: [SMTP_PASSWORD]
steps:
  - id: mail
    notify:
      email:
        to: [oncall@example.com, "Lead <lead@example.com>"]
        from: "Steward <steward@example.com>"
        server: 127.0.0.1
        port: {port}
        tls: {tls}
        username: steward
        password: "{{{{ secrets.SMTP_PASSWORD }}}}"
{extra}
      text: "Deploy of 1.4.2 failed\nrolled back"
      severity: critical
      fields: {{ env: production }}
"#
    )
}

#[test]
fn email_over_plain_smtp_on_loopback() {
    let smtp = SmtpServer::start(None);
    let p = Project::with_runbook("mail", &email_runbook(smtp.port, "none", ""));
    let password = unique("smtp-pw");
    let out = p.run_with("mail", &["--output", "json"], |t| {
        t.env("SMTP_PASSWORD", &password)
    });
    out.expect_code(0);
    assert_eq!(
        out.step("mail")["result"],
        json!({ "delivered": true, "status": 250 })
    );
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert_eq!(mail.from, "steward@example.com");
    assert_eq!(mail.to, ["oncall@example.com", "lead@example.com"]);
    assert_eq!(
        mail.header("subject").as_deref(),
        Some("[CRITICAL] mail: Deploy of 1.4.2 failed")
    );
    assert!(!mail.tls);
    assert_eq!(mail.auth, Some(format!("steward:{password}")));
    let body = mail.body();
    assert!(
        body.contains("Deploy of 1.4.2 failed\nrolled back"),
        "{body}"
    );
    assert!(body.contains("rolled back\n\nenv: production\n"), "{body}");
    let footer = format!(
        "-- \nsteward, runbook mail, run {} (running)\n",
        out.run_id()
    );
    assert!(body.ends_with(&footer), "{body}");
    assert!(!p.everything(&out).contains(&password));
}

#[test]
fn email_over_starttls_with_a_test_ca() {
    let ca = TestCa::new();
    let smtp = SmtpServer::start(Some(ca.server_config(false)));
    let p = Project::new();
    p.write("ca.pem", &ca.pem());
    p.runbook(
        "mail",
        &email_runbook(
            smtp.port,
            "starttls",
            "        ca_cert: ca.pem\n        subject: \"[{{ run.runbook }}] rollback\"",
        ),
    );
    p.runbook("untrusted", &email_runbook(smtp.port, "starttls", ""));
    let out = p.run_with("mail", &["--output", "json"], |t| {
        t.env("SMTP_PASSWORD", "s3cret-smtp")
    });
    out.expect_code(0);
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1);
    assert!(mails[0].tls, "the mail came over STARTTLS");
    assert_eq!(
        mails[0].auth.as_deref(),
        Some("steward:s3cret-smtp"),
        "logged in after STARTTLS"
    );
    assert_eq!(
        mails[0].header("subject").as_deref(),
        Some("[mail] rollback")
    );
    let out = p.run_with("untrusted", &["--output", "json"], |t| {
        t.env("SMTP_PASSWORD", "s3cret-smtp")
    });
    out.expect_code(1);
    let error = out.error("mail");
    assert!(
        error.contains("TLS with the SMTP server 127.0.0.1"),
        "{error}"
    );
    assert!(
        error.contains("unknown CA") && error.contains("ca_cert"),
        "{error}"
    );
    assert_eq!(smtp.mails().len(), 1);
}

#[test]
fn plain_smtp_is_refused_beyond_loopback() {
    let p = Project::with_runbook(
        "remote",
        &unindent(
            r#"
            steps:
              - id: mail
                notify:
                  email: { to: a@example.com, from: b@example.com, server: mail.example.invalid, tls: none }
                  text: hi
            "#,
        ),
    );
    let out = p.run_json("remote", &[]);
    out.expect_code(1);
    assert!(
        out.error("mail")
            .contains("allowed only to a loopback server"),
        "{}",
        out.error("mail")
    );
}
