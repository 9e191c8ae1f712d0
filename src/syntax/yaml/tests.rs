use super::*;

#[test]
fn positions_are_one_based() {
    let node = parse("a: 1\nsteps:\n  - id: x\n    shell: 'echo'\n")
        .unwrap()
        .unwrap();
    let (key, steps) = node.get("steps").unwrap();
    assert_eq!((key.span.line, key.span.col), (2, 1));
    let step = &steps.as_seq().unwrap()[0];
    let (k, v) = step.get("shell").unwrap();
    assert_eq!((k.span.line, k.span.col, k.span.len), (4, 5, 5));
    assert_eq!((v.span.col, v.span.len), (12, 6));
}

#[test]
fn syntax_errors_have_positions() {
    let err = parse("a: [1, 2\nb: 3\n").unwrap_err();
    assert!(err.message.starts_with("invalid YAML"), "{err:?}");
    assert!(err.span.line >= 1);
}

#[test]
fn duplicate_keys_are_errors() {
    let err = parse("a: 1\nb: 2\na: 3\n").unwrap_err();
    assert_eq!(err.span.line, 3);
    assert!(err.message.contains("duplicate key `a`"));
}

#[test]
fn nested_aliases_are_bounded() {
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..9 {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        text.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
    }
    let err = parse(&text).unwrap_err();
    assert!(err.message.contains("aliases"), "{err:?}");
    assert_eq!(err.span.line, 5);
}

#[test]
fn aliases_resolve() {
    let node = parse("x: &v [1, 2]\ny: *v\n").unwrap().unwrap();
    assert_eq!(node.get("y").unwrap().1.as_seq().unwrap().len(), 2);
}

#[test]
fn empty_document_is_none() {
    assert!(parse("").unwrap().is_none());
    assert!(parse("# only a comment\n").unwrap().is_none());
}
