//! The parser and the compiler never panic, whatever the file holds: random
//! bytes, YAML-ish noise, and the repository's own runbooks and step
//! templates mutated line by line (deleted, duplicated, swapped, re-indented,
//! characters inserted). Runs in-process.

use std::fs;
use std::path::Path;
use std::sync::OnceLock;

use proptest::prelude::*;
use proptest::test_runner::Config;
use steward::compile::{Library, Source, check_template, compile};
use steward::spec::{parse_runbook, parse_template};

/// Files under `dir` of the repository, as (name, text).
fn files(dir: &str) -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut out: Vec<(String, String)> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            (name, fs::read_to_string(&p).unwrap())
        })
        .collect();
    out.sort();
    out
}

/// A runbook using most of the format, so that mutations reach every part
/// of the compiler even when the repository's runbooks are small.
const KITCHEN_SINK: &str = r#"name: sink
description: Every feature at once.
tags: [fuzz]
inputs:
  version: { type: string, pattern: '^v?\d+\.\d+\.\d+$', required: true }
  env: { type: string, enum: [staging, production], default: staging }
  count: { type: int, default: 2 }
  ratio: { type: number, default: 0.5 }
  dry: { type: bool, default: false }
secrets: [DEPLOY_TOKEN, SLACK_URL]
vars:
  api: "https://{{ inputs.env }}.example.com"
  both: "{{ vars.api }}/{{ inputs.version }}"
env:
  RELEASE: "{{ inputs.version }}"
concurrency: { key: "deploy-{{ inputs.env }}", on_conflict: wait }
timeout: 30m
max_parallel: 4
defaults:
  retry: { attempts: 3, delay: 2s, backoff: exponential, max_delay: 30s, jitter: true }
  timeout: 5m
triggers:
  schedule: ["0 3 * * *", { cron: "*/5 * * * *", timezone: Europe/Paris }]
  chat: { command: deploy, allow: ["@oncall"] }
steps:
  - id: build
    shell: { run: "make VERSION={{ inputs.version }}", cwd: /tmp, env: { A: "{{ vars.api }}" } }
    outputs:
      artifact: "{{ result.stdout | trim }}"
  - id: test
    needs: [build]
    for_each: "range(inputs.count)"
    shell: echo {{ item }} {{ steps.build.outputs.artifact }}
    retry: { attempts: 2, on: [timeout, { exit_code: [1, 2] }] }
    continue_on_error: true
  - id: lint
    needs: [build]
    when: not inputs.dry
    shell: make lint
    assert: ["result.exit_code == 0"]
  - id: release
    needs: [test, lint]
    shell: |
      curl -H "Authorization: {{ secrets.DEPLOY_TOKEN }}" {{ vars.both }}
    undo:
      id: unrelease
      shell: echo undo {{ inputs.version }}
  - id: pause
    sleep: 1s
  - id: healthy
    uses: retry-until
    with: { command: "curl -f {{ vars.api }}/health", attempts: 4 }
outputs:
  deployed: "{{ inputs.version }}"
  artifact: "{{ steps.build.outputs.artifact }}"
on_failure:
  - id: rollback
    shell: echo rollback {{ steps.release.status }}
finally:
  - id: report
    shell: echo "{{ run.status }} {{ secrets.SLACK_URL }}"
"#;

fn seeds() -> Vec<String> {
    let mut seeds: Vec<String> = files("runbooks").into_iter().map(|(_, t)| t).collect();
    seeds.extend(files("steps").into_iter().map(|(_, t)| t));
    seeds.push(KITCHEN_SINK.to_owned());
    seeds
}

/// The repository's step templates, read once.
fn library() -> &'static Library {
    static LIBRARY: OnceLock<Library> = OnceLock::new();
    LIBRARY.get_or_init(load_library)
}

fn load_library() -> Library {
    let mut library = Library::default();
    for (name, text) in files("steps") {
        library.add(
            &name,
            Source {
                path: "steps/x.yaml",
                text: &text,
                stem: &name,
            },
        );
    }
    library
}

/// Everything the compiler does with a file; any panic fails the test.
fn exercise(text: &str, library: &Library) {
    let _ = parse_runbook(text);
    let _ = parse_template(text);
    let source = Source {
        path: "runbooks/fuzz.yaml",
        text,
        stem: "fuzz",
    };
    if let Err(diagnostics) = compile(source, library) {
        // Rendering reads the source at every position; it must not panic either.
        for d in &diagnostics {
            let _ = d.render("runbooks/fuzz.yaml", text, false);
        }
    }
    let _ = compile(source, &Library::default());
    for d in check_template(source) {
        let _ = d.render("steps/fuzz.yaml", text, false);
    }
    let mut own = Library::default();
    let _ = own.add("fuzz", source);
}

#[derive(Debug, Clone)]
enum Mutation {
    Delete(usize),
    Duplicate(usize),
    Swap(usize, usize),
    Indent(usize, i8),
    Insert(usize, usize, char),
    Word(usize, usize, &'static str),
    Truncate(usize),
}

/// Words that keep a line YAML but change what it means.
const WORDS: &[&str] = &[
    "a",
    "build",
    "x",
    "needs",
    "id",
    "shell",
    "sleep",
    "uses",
    "with",
    "retry",
    "undo",
    "steps.",
    "inputs.",
    "secrets.",
    "vars.",
    "params.",
    "result.",
    "item",
    "{{ ",
    " }}",
    "{% if ",
    "%}",
    "|",
    " | raw",
    "[",
    "]",
    "{",
    "}",
    "0",
    "-1",
    "99999999999999999999",
    "5 parsecs",
    "1s",
    "~",
    "true",
    "1e999",
    "é",
    "\"",
    "'",
    ": ",
    "- ",
    "# ",
    "&a ",
    "*a",
];

fn mutation() -> impl Strategy<Value = Mutation> {
    let special = prop::sample::select(vec![
        ':', '-', '[', ']', '{', '}', '"', '\'', '#', '&', '*', '!', '|', '>', '%', '\t', ' ',
        '\n', '\\', ',', '?', 'é', '\u{0}', '\u{feff}',
    ]);
    prop_oneof![
        3 => any::<usize>().prop_map(Mutation::Delete),
        3 => any::<usize>().prop_map(Mutation::Duplicate),
        2 => (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Swap(a, b)),
        1 => (any::<usize>(), -4i8..=4).prop_map(|(l, d)| Mutation::Indent(l, d)),
        2 => (any::<usize>(), any::<usize>(), prop_oneof![special, any::<char>()])
            .prop_map(|(l, c, ch)| Mutation::Insert(l, c, ch)),
        4 => (any::<usize>(), any::<usize>(), prop::sample::select(WORDS))
            .prop_map(|(l, c, w)| Mutation::Word(l, c, w)),
        1 => any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(text: &str, mutations: &[Mutation]) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    for m in mutations {
        if lines.is_empty() {
            lines.push(String::new());
        }
        let n = lines.len();
        match *m {
            Mutation::Delete(i) => {
                lines.remove(i % n);
            }
            Mutation::Duplicate(i) => {
                let line = lines[i % n].clone();
                lines.insert(i % n, line);
            }
            Mutation::Swap(a, b) => lines.swap(a % n, b % n),
            Mutation::Indent(i, d) => {
                let line = &mut lines[i % n];
                if d >= 0 {
                    line.insert_str(0, &" ".repeat(d as usize));
                } else {
                    let strip = line
                        .chars()
                        .take((-d) as usize)
                        .take_while(|c| *c == ' ')
                        .count();
                    line.drain(..strip);
                }
            }
            Mutation::Insert(i, c, ch) => {
                let line = &mut lines[i % n];
                let chars = line.chars().count();
                let at = line
                    .char_indices()
                    .nth(c % (chars + 1))
                    .map_or(line.len(), |(b, _)| b);
                line.insert(at, ch);
            }
            Mutation::Word(i, c, word) => {
                let line = &mut lines[i % n];
                let chars = line.chars().count();
                let at = line
                    .char_indices()
                    .nth(c % (chars + 1))
                    .map_or(line.len(), |(b, _)| b);
                line.insert_str(at, word);
            }
            Mutation::Truncate(i) => {
                let line = &mut lines[i % n];
                let chars = line.chars().count();
                let at = line
                    .char_indices()
                    .nth(i % (chars + 1))
                    .map_or(line.len(), |(b, _)| b);
                line.truncate(at);
            }
        }
    }
    lines.join("\n") + "\n"
}

fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config(1000))]

    #[test]
    fn mutated_runbooks_never_panic(
        seed in any::<prop::sample::Index>(),
        mutations in prop::collection::vec(mutation(), 1..5),
    ) {
        static SEEDS: OnceLock<Vec<String>> = OnceLock::new();
        let seed: &String = seed.get(SEEDS.get_or_init(seeds));
        let text = apply(seed, &mutations);
        exercise(&text, library());
    }
}

proptest! {
    #![proptest_config(config(500))]

    /// Whole lines moved around: the YAML usually stays valid, so these
    /// reach the DAG checks (order, `needs`, ids, upstream reads).
    #[test]
    fn reordered_lines_never_panic(
        seed in any::<prop::sample::Index>(),
        mutations in prop::collection::vec(
            prop_oneof![
                any::<usize>().prop_map(Mutation::Delete),
                any::<usize>().prop_map(Mutation::Duplicate),
                (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Swap(a, b)),
            ],
            1..4,
        ),
    ) {
        static SEEDS: OnceLock<Vec<String>> = OnceLock::new();
        let seed: &String = seed.get(SEEDS.get_or_init(seeds));
        exercise(&apply(seed, &mutations), library());
    }
}

proptest! {
    #![proptest_config(config(300))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let text = String::from_utf8_lossy(&bytes);
        exercise(&text, &Library::default());
    }

    #[test]
    fn yaml_like_noise_never_panics(
        text in "([a-z_]{1,8}|[:\\-\\[\\]{}'\"#&*!|>%.,]|\\{\\{|\\}\\}|\\{%|%\\}|steps|needs|id|shell|uses|with|inputs|retry| |  |\n|\t){0,120}"
    ) {
        exercise(&text, library());
    }
}

/// Inputs a random search rarely finds: deep nesting, aliases, odd
/// scalars and positions at the very end of the file.
#[test]
fn edge_cases_never_panic() {
    // Beyond the YAML reader's depth limit, and just under it.
    let deep_seq = format!("steps: {}{}\n", "[".repeat(2000), "]".repeat(2000));
    let deep_map = format!("vars:\n  x: {}1{}\n", "{a: ".repeat(2000), "}".repeat(2000));
    let nested_seq = format!("steps: {}{}\n", "[".repeat(250), "]".repeat(250));
    let nested_map = format!(
        "vars:\n  x: {}1{}\nsteps: []\n",
        "{a: ".repeat(250),
        "}".repeat(250)
    );
    let nested_with = format!(
        "steps:\n  - id: a\n    uses: retry-until\n    with: {{ command: {}\"{{{{ inputs.x }}}}\"{} }}\n",
        "[".repeat(250),
        "]".repeat(250)
    );
    let cases = [
        "",
        "\n",
        "~",
        "[]",
        "steps:",
        "steps: ~",
        "steps: [~]",
        "steps: [[]]",
        "steps:\n  - ~\n  - 1\n  - []\n  - id:\n",
        "steps:\n  - id: a\n    shell:\n",
        "steps:\n  - id: a\n    shell: \"\"\n",
        "steps:\n  - id: a\n    shell: '{{'\n",
        "steps:\n  - id: a\n    shell: '{{ steps. }}'\n",
        "steps:\n  - id: a\n    shell: '{{ steps[\"a\"] }}'\n",
        "steps:\n  - id: a\n    needs: a\n    shell: x\n",
        "steps:\n  - id: a\n    needs: [a]\n    shell: x\n",
        "steps:\n  - id: a\n    undo: { id: a, shell: x }\n    shell: x\n",
        "steps:\n  - id: a\n    retry: { attempts: 99999999999999999999 }\n    shell: x\n",
        "steps:\n  - id: a\n    timeout: 99999999999999999999d\n    shell: x\n",
        "steps:\n  - id: a\n    for_each: 3\n    shell: x\n",
        // minijinja's lexer panics on `}}` inside an expression followed by
        // more text (found by `mutated_runbooks_never_panic`).
        "steps:\n  - id: a\n    when: \"x }} y\"\n    shell: x\n",
        "steps:\n  - id: a\n    assert: \"{'a': {'b': 1}} == 1\"\n    shell: x\n",
        "steps:\n  - id: a\n    for_each: \"[1] }}\"\n    shell: x\n",
        "inputs:\n  x: { pattern: '(' }\nsteps: []\n",
        "inputs:\n  x: { type: int, default: 1e400 }\nsteps: []\n",
        "inputs:\n  x: { enum: [] , default: a}\nsteps: []\n",
        "a: &a [1]\nb: *a\nsteps: *a\n",
        "steps: *nothing\n",
        "--- \nsteps: []\n--- \nsteps: []\n",
        "\u{feff}steps: []\n",
        "steps:\n  - id: é\n    shell: \"é{{ inputs.é }}\"\n",
        "steps:\n\t- id: a\n",
        "step:\n  shell: '{{ params.x }}'\n",
        "params: { x: {} }\nstep:\n  uses: retry-until\n",
        &deep_seq,
        &deep_map,
        &nested_seq,
        &nested_map,
        &nested_with,
    ];
    for text in cases {
        exercise(text, library());
    }
}
