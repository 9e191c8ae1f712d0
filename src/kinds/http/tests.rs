use super::*;

#[test]
fn encoded_secrets() {
    let forms = encoded_forms("p@ss word/1");
    assert!(forms.contains(&"p%40ss%20word%2F1".to_owned()), "{forms:?}");
    assert!(forms.contains(&"p%40ss+word%2F1".to_owned()), "{forms:?}");
    assert!(forms.contains(&"p%40ss%20word/1".to_owned()), "{forms:?}");
    assert!(encoded_forms("plain-token_1").is_empty());
}

#[test]
fn excerpts_are_one_bounded_line() {
    assert_eq!(excerpt(""), "");
    assert_eq!(excerpt("db\n  not ready"), ": db not ready");
    assert!(excerpt(&"x".repeat(500)).ends_with('…'));
}

#[test]
fn passwords_in_urls_are_masked() {
    let url = parse_url("https://user:hunter2@example.com/x").expect("a URL");
    assert_eq!(shown_url(&url), "https://user:***@example.com/x");
    assert!(parse_url("ftp://example.com").is_err());
}
