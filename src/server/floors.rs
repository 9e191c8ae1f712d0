//! Keeps the server's floor plan (see `mod.rs`): reads every file under
//! `src/server/` and fails on an import of a part listed later, or of
//! `mod.rs` itself (`super::` from a part's root, `crate::server::NAME`).

use std::collections::BTreeSet;
use std::path::{Component, Path};

use crate::floors::{code, names_after, rust_files};

/// Each part and its floor, from the bottom up; `mod.rs` is above them all.
const PARTS: &[(&str, u8)] = &[
    ("log", 1),
    ("metrics", 1),
    ("http", 2),
    ("service", 3),
    ("api", 4),
    ("scheduler", 4),
    ("floors", 5),
];

/// The floor of `mod.rs`.
const ROOT: u8 = 5;

/// A file's module path inside the server: `api/slack/mod.rs` is
/// `[api, slack]`, `mod.rs` is `[]`.
fn module_path(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    let file = parts.pop().expect("a file name");
    let stem = file.trim_end_matches(".rs");
    if stem != "mod" {
        parts.push(stem.to_owned());
    }
    parts
}

/// The part a name right under the server's root is: a part, or `mod.rs`.
fn part_of(name: &str) -> String {
    if PARTS.iter().any(|(p, _)| *p == name) {
        name.to_owned()
    } else {
        "mod.rs".to_owned()
    }
}

/// `(from part, to part)` for every import between parts.
fn edges() -> BTreeSet<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/server");
    let files = rust_files(&src);
    let mut edges = BTreeSet::new();
    for file in files {
        let path = module_path(file.strip_prefix(&src).expect("under src/server"));
        let Some(from) = path.first().cloned() else {
            continue;
        };
        let code = code(&std::fs::read_to_string(&file).expect("read a source file"));
        let mut targets: Vec<String> = names_after(&code, "crate::server::")
            .iter()
            .map(|n| part_of(n))
            .collect();
        // `super::` from a part's root (`api/mod.rs`, `log.rs`) is the
        // server's root; deeper, it stays inside the part.
        if path.len() == 1 {
            targets.extend(names_after(&code, "super::").iter().map(|n| part_of(n)));
        }
        for to in targets {
            if to != from {
                edges.insert((from.clone(), to));
            }
        }
    }
    edges
}

fn floor(part: &str) -> u8 {
    PARTS
        .iter()
        .find(|(p, _)| *p == part)
        .map_or(ROOT, |(_, f)| *f)
}

#[test]
fn no_part_of_the_server_imports_one_listed_later() {
    let upward: Vec<String> = edges()
        .into_iter()
        .filter(|(from, to)| floor(to) >= floor(from) && from != "floors")
        .map(|(from, to)| format!("{from} imports {to}"))
        .collect();
    assert!(
        upward.is_empty(),
        "server parts importing upward or sideways:\n{}",
        upward.join("\n")
    );
}

#[test]
fn the_reader_sees_the_imports_between_parts() {
    let edges = edges();
    for (from, to) in [
        ("api", "service"),
        ("api", "http"),
        ("scheduler", "service"),
        ("service", "metrics"),
        ("http", "metrics"),
    ] {
        assert!(
            edges.contains(&(from.to_owned(), to.to_owned())),
            "{from} → {to} not seen in {edges:?}"
        );
    }
}

#[test]
fn the_reader_resolves_paths_to_parts() {
    assert_eq!(module_path(Path::new("api/slack/mod.rs")), ["api", "slack"]);
    assert_eq!(module_path(Path::new("log.rs")), ["log"]);
    let code = code(
        "use crate::server::{http::ApiError, log::log};\nuse super::Thing;\n// crate::server::api\n",
    );
    assert_eq!(names_after(&code, "crate::server::"), ["http", "log"]);
    assert_eq!(names_after(&code, "super::"), ["Thing"]);
    assert_eq!(part_of("Thing"), "mod.rs");
}
