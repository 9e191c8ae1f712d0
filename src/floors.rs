//! Keeps the floor plan of `lib.rs`: reads every file under `src/` and fails
//! on an import that goes up a floor, a cycle between top-level modules, or
//! a top-level module without a floor.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each top-level module and its floor, from the bottom up.
const FLOORS: &[(&str, u8)] = &[
    ("diagnostic", 1),
    ("duration", 1),
    ("events", 1),
    ("outcome", 1),
    ("retry", 1),
    ("secrets", 1),
    ("template", 1),
    ("chain", 1),
    ("config", 1),
    ("schedule", 1),
    ("trigger", 1),
    ("webhook", 1),
    ("syntax", 2),
    ("kind", 3),
    ("kinds", 4),
    ("spec", 5),
    ("plan", 6),
    ("compile", 7),
    ("engine", 7),
    ("inputs", 7),
    ("audit", 8),
    ("store", 8),
    ("render", 8),
    ("project", 8),
    ("host", 9),
    ("server", 10),
    ("cli", 10),
];

/// Files that are not part of any floor.
const OUTSIDE: &[&str] = &["lib", "main", "floors"];

/// Every `.rs` file under `dir`.
pub(crate) fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read a source folder") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out
}

/// The code of a file without its comments (doc links may point anywhere)
/// and without its inline tests.
pub(crate) fn code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests {") {
        Some(at) => &text[..at],
        None => text,
    };
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The names each path that starts with `prefix` reaches: the word after
/// it, or each word of a `{…}` group.
pub(crate) fn names_after(code: &str, prefix: &str) -> Vec<String> {
    let word = |s: &str| -> String {
        s.trim()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find(prefix) {
        let boundary = rest[..at]
            .chars()
            .last()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == ':'));
        rest = &rest[at + prefix.len()..];
        if !boundary {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            found.extend(group[..end].split(',').map(word));
        } else {
            found.push(word(rest));
        }
    }
    found.retain(|n| !n.is_empty() && n != "self");
    found
}

/// The top-level modules a file's code names through `crate::`.
fn imports(code: &str) -> BTreeSet<String> {
    names_after(code, "crate::").into_iter().collect()
}

/// `module -> modules it imports`, for every top-level module of `src/`.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files = rust_files(&src);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let relative = file.strip_prefix(&src).expect("under src/");
        let first = relative.components().next().expect("a component");
        let module = Path::new(first.as_os_str())
            .file_stem()
            .expect("a name")
            .to_string_lossy()
            .into_owned();
        if OUTSIDE.contains(&module.as_str()) {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("read a source file");
        let targets = edges.entry(module.clone()).or_default();
        targets.extend(imports(&code(&text)).into_iter().filter(|t| *t != module));
    }
    edges
}

fn floor(module: &str) -> Option<u8> {
    FLOORS.iter().find(|(m, _)| *m == module).map(|(_, f)| *f)
}

#[test]
fn every_top_level_module_has_a_floor() {
    let unplaced: Vec<_> = graph().into_keys().filter(|m| floor(m).is_none()).collect();
    assert!(
        unplaced.is_empty(),
        "give these modules a floor in src/floors.rs and lib.rs: {unplaced:?}"
    );
}

#[test]
fn no_import_goes_up_a_floor() {
    let mut upward = Vec::new();
    for (from, targets) in graph() {
        for to in targets {
            if let (Some(a), Some(b)) = (floor(&from), floor(&to))
                && b > a
            {
                upward.push(format!("{from} (floor {a}) imports {to} (floor {b})"));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports going up:\n{}",
        upward.join("\n")
    );
}

#[test]
fn no_cycle_between_top_level_modules() {
    let edges = graph();
    // Depth-first search for a back edge, reporting the cycle it closes.
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    for node in edges.keys() {
        if let Some(cycle) = visit(node, &edges, &mut Vec::new(), &mut done) {
            panic!("modules import each other: {}", cycle.join(" → "));
        }
    }
}

#[test]
fn the_reader_sees_grouped_and_plain_imports() {
    let text =
        "use crate::plan::Plan;\nuse crate::{kind::X, events};\n// crate::host in a comment\n";
    let found = imports(&code(text));
    assert_eq!(
        found.into_iter().collect::<Vec<_>>(),
        ["events", "kind", "plan"]
    );
}
