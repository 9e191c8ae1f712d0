use std::borrow::Cow;
use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use serde_json::json;

use super::*;

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|n| (*n).to_owned()).collect()
}

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect();
    move |name| map.get(name).cloned()
}

fn secrets_file(dir: &tempfile::TempDir, text: &str, mode: u32) -> PathBuf {
    let path = dir.path().join("secrets.env");
    fs::write(&path, text).expect("write");
    fs::set_permissions(&path, fs::Permissions::from_mode(mode)).expect("chmod");
    path
}

#[test]
fn environment_wins_over_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = secrets_file(&dir, "TOKEN=from-file\nOTHER=file-only\n", 0o600);
    let store = SecretStore::load(
        &names(&["TOKEN", "OTHER"]),
        Some(&file),
        env_of(&[("TOKEN", "from-env")]),
    )
    .expect("loads");
    assert_eq!(store.get("TOKEN"), Some("from-env"));
    assert_eq!(store.source("TOKEN"), Some(SecretSource::Env));
    assert_eq!(store.get("OTHER"), Some("file-only"));
    assert_eq!(store.source("OTHER"), Some(SecretSource::File));
    assert_eq!(store.get("NOPE"), None);
    assert_eq!(store.len(), 2);
    assert_eq!(
        store.iter().collect::<Vec<_>>(),
        [("TOKEN", "from-env"), ("OTHER", "file-only")]
    );
}

#[test]
fn all_missing_secrets_are_reported_by_name() {
    let err = SecretStore::load(
        &names(&["A", "B", "C", "A"]),
        None,
        env_of(&[("B", "x-value")]),
    )
    .expect_err("missing");
    assert!(
        matches!(&err, SecretsError::Missing { names, .. } if names == &["A", "C"]),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "missing secrets: A, C; set them in the environment or in a secrets file"
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let file = secrets_file(&dir, "", 0o600);
    let err = SecretStore::load(&names(&["ONLY"]), Some(&file), env_of(&[])).expect_err("missing");
    assert_eq!(
        err.to_string(),
        format!(
            "missing secret: ONLY; set it in the environment or in {}",
            file.display()
        )
    );
}

#[test]
fn a_file_others_may_read_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    for mode in [0o644, 0o640, 0o604, 0o620, 0o601] {
        let file = secrets_file(&dir, "TOKEN=abcdef\n", mode);
        let err =
            SecretStore::load(&names(&["TOKEN"]), Some(&file), env_of(&[])).expect_err("refused");
        let message = err.to_string();
        assert!(message.contains(&file.display().to_string()), "{message}");
        assert!(message.contains(&format!("{mode:04o}")), "{message}");
        assert!(
            message.contains(&format!("chmod 600 {}", file.display())),
            "{message}"
        );
        assert!(!message.contains("abcdef"));
    }
    for mode in [0o600, 0o400] {
        let file = secrets_file(&dir, "TOKEN=abcdef\n", mode);
        let store =
            SecretStore::load(&names(&["TOKEN"]), Some(&file), env_of(&[])).expect("accepted");
        assert_eq!(store.get("TOKEN"), Some("abcdef"));
    }
}

#[test]
fn a_missing_file_is_an_error_naming_it() {
    let err = SecretStore::load(
        &names(&[]),
        Some(Path::new("/nonexistent/secrets.env")),
        env_of(&[]),
    )
    .expect_err("no file");
    assert!(
        err.to_string()
            .starts_with("secrets file /nonexistent/secrets.env: cannot read it"),
        "{err}"
    );
}

#[test]
fn parses_the_dotenv_format() {
    let text = "\
# a comment
   
PLAIN=  hello world  
export EXPORTED=yes
HASH=abc#def
EMPTY=
SINGLE='lit\\n \"x\"' # trailing comment
DOUBLE=\"a\\nb\\t\\\"c\\\" \\\\ \\q\"
EQUALS=a=b=c
CRLF=windows\r
";
    let values = parse_dotenv(text).expect("parses");
    let get = |k: &str| values.get(k).map(String::as_str);
    assert_eq!(get("PLAIN"), Some("hello world"));
    assert_eq!(get("EXPORTED"), Some("yes"));
    assert_eq!(get("HASH"), Some("abc#def"));
    assert_eq!(get("EMPTY"), Some(""));
    assert_eq!(get("SINGLE"), Some("lit\\n \"x\""));
    assert_eq!(get("DOUBLE"), Some("a\nb\t\"c\" \\ \\q"));
    assert_eq!(get("EQUALS"), Some("a=b=c"));
    assert_eq!(get("CRLF"), Some("windows"));
}

#[test]
fn syntax_errors_name_the_line_but_never_the_value() {
    let cases = [
        ("no equals sign here\n", 1, "expected NAME=value"),
        (
            "OK=1\n9BAD=topsecret\n",
            2,
            "invalid name `9BAD`: a name is a letter or _ followed by letters, digits and _",
        ),
        ("A='topsecret\n", 1, "A: unterminated single quote"),
        ("A=\"topsecret\n", 1, "A: unterminated double quote"),
        (
            "A=\"topsecret\" junk\n",
            1,
            "A: unexpected text after the closing quote",
        ),
        (
            "A=1\n\nA=topsecret\n",
            3,
            "A is defined twice (first on line 1)",
        ),
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    for (text, line, reason) in cases {
        let file = secrets_file(&dir, text, 0o600);
        let err = SecretStore::load(&names(&[]), Some(&file), env_of(&[])).expect_err("syntax");
        let message = err.to_string();
        assert_eq!(
            message,
            format!("secrets file {}, line {line}: {reason}", file.display())
        );
        assert!(!message.contains("topsecret"));
    }
}

#[test]
fn debug_output_never_shows_values() {
    let store = SecretStore::load(
        &names(&["TOKEN"]),
        None,
        env_of(&[("TOKEN", "hunter2-value")]),
    )
    .expect("loads");
    let debug = format!("{store:?} {:?}", store.redactor());
    assert!(!debug.contains("hunter2"), "{debug}");
    assert!(debug.contains("\"TOKEN\": *** (from Env)"), "{debug}");
}

fn redactor(values: &[&str]) -> Redactor {
    Redactor::new(values).expect("builds")
}

#[test]
fn redacts_inside_longer_strings_and_borrows_when_clean() {
    let r = redactor(&["s3cr3t", ""]);
    assert_eq!(
        r.redact("token=s3cr3t; again s3cr3t!"),
        "token=***; again ***!"
    );
    assert_eq!(r.redact("s3cr3ts3cr3t"), "***");
    assert!(matches!(
        r.redact("nothing here"),
        Cow::Borrowed("nothing here")
    ));
    assert!(r.contains_secret("xs3cr3tx"));
    let empty = redactor(&["", ""]);
    assert!(empty.is_empty());
    assert!(matches!(empty.redact("s3cr3t"), Cow::Borrowed(_)));
}

#[test]
fn overlapping_and_nested_secrets_leave_nothing_visible() {
    let r = redactor(&["abcdef", "cdefgh", "def"]);
    assert_eq!(r.redact("xx abcdefgh yy"), "xx *** yy");
    assert_eq!(r.redact("abcdef cdefgh def"), "*** *** ***");
    let nested = redactor(&["pass", "password123"]);
    assert_eq!(nested.redact("password123 pass passwor"), "*** *** ***wor");
}

#[test]
fn short_secrets_are_still_masked() {
    let r = redactor(&["a"]);
    assert_eq!(r.redact("banana"), "b***n***n***");
}

#[test]
fn multibyte_secrets_and_text() {
    let r = redactor(&["pässwörd", "秘密"]);
    assert_eq!(r.redact("ä pässwörd ö 秘密の鍵 🎉"), "ä *** ö ***の鍵 🎉");
    let emoji = redactor(&["🔑🔑"]);
    assert_eq!(emoji.redact("x🔑🔑🔑y"), "x***y");
}

#[test]
fn json_escaped_and_multiline_forms_are_masked() {
    let pem = "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n}\n-----END KEY-----";
    let r = redactor(&["quo\"te", pem]);
    assert_eq!(r.redact(r#"{"pw":"quo\"te"}"#), r#"{"pw":"***"}"#);
    assert_eq!(
        r.redact("line: MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"),
        "line: ***"
    );
    assert_eq!(
        r.redact("{}"),
        "{}",
        "short lines of a multi-line secret are not patterns"
    );
    assert_eq!(r.redact(pem), "***");
}

#[test]
fn redacts_json_strings_keys_and_numbers() {
    let r = redactor(&["tok3n", "987654"]);
    let mut value = json!({
        "headers": {"Authorization": "Bearer tok3n", "tok3n": "as key", "***": "existing"},
        "list": ["a", "tok3n", 1, null, true, {"deep": "xtok3nx"}],
        "pin": 987654,
        "other": 42,
        "order": "kept"
    });
    r.redact_json(&mut value);
    assert_eq!(
        value,
        json!({
            "headers": {"Authorization": "Bearer ***", "***": "as key", "***#2": "existing"},
            "list": ["a", "***", 1, null, true, {"deep": "x***x"}],
            "pin": "***",
            "other": 42,
            "order": "kept"
        })
    );
    let keys: Vec<_> = value.as_object().expect("object").keys().cloned().collect();
    assert_eq!(keys, ["headers", "list", "pin", "other", "order"]);
}

#[test]
fn the_store_redactor_covers_every_value() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = secrets_file(&dir, "B=value-from-file\n", 0o600);
    let store = SecretStore::load(
        &names(&["A", "B"]),
        Some(&file),
        env_of(&[("A", "value-from-env")]),
    )
    .expect("loads");
    assert_eq!(
        store.redactor().redact("value-from-env value-from-file"),
        "*** ***"
    );
}
