//! Signatures, replays and stale requests are refused.

use super::*;

#[test]
fn signatures_replays_and_stale_requests_are_refused() {
    let receiver = Receiver::start(|_, _| Reply::text(200, "ok"));
    let p = project();
    let server = start(&p);
    let body = command_body(&ALICE, "deploy version=9", &receiver.url("/commands/1"));
    let ts = now();
    let good = sign(SECRET, ts, &body);

    let refused = |body: &str, ts: i64, signature: &str, needle: &str| {
        let (status, text) = post_signed(&server, body, ts, signature);
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{text}");
        assert!(text.contains(needle), "{needle}: {text}");
    };
    // Tampered: the body's version changed after signing.
    refused(
        &body.replace("version%3D9", "version%3D8"),
        ts,
        &good,
        "signature",
    );
    refused(&body, ts, &sign("another-secret", ts, &body), "signature");
    refused(&body, ts + 1, &good, "signature");
    refused(&body, ts, "v1=00", "X-Slack-Signature");
    // Older than five minutes, correctly signed: a replay of an old request.
    let old = ts - 6 * 60;
    refused(&body, old, &sign(SECRET, old, &body), "timestamp");
    // Slack's documented example request, from 2018.
    let example = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    refused(
        example,
        1_531_420_618,
        "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
        "timestamp",
    );
    assert!(p.run_ids().is_empty(), "{:?}", p.run_ids());

    // The genuine request is taken once; the same request again is a replay.
    let (status, text) = post_signed(&server, &body, ts, &good);
    assert_eq!(status, StatusCode::OK, "{text}");
    refused(&body, ts, &good, "replay");
    wait_for("the one run", Duration::from_secs(10), || {
        p.run_ids().len() == 1
    });
    p.write("release", "");

    let logged = server.output();
    assert!(
        logged.contains("slack: `risk` starts risky (allow: alice, U0CAROL)"),
        "{logged}"
    );
    assert!(
        logged.contains("runbook ghost: triggers.chat.allow names @undefined, which server.slack.groups doesn't define"),
        "{logged}"
    );
    assert!(logged.contains("slack: request refused"), "{logged}");
    assert!(!logged.contains(SECRET), "{logged}");
    assert!(!logged.contains("legacy-verification-token"), "{logged}");
}
