//! What the integration tests share:
//!
//! - [`Project`]: a throw-away project folder to write runbooks into;
//! - [`Test`]: one `steward` command in it, built up and checked in the
//!   manner of just's `Test` (arguments, environment, expected exit code and
//!   output), run to its end or [`spawn`](Test::spawn)ed;
//! - [`Outcome`]: how a command went, with readers for the JSON report;
//! - processes: [`Spawned`] stewards, [`wait_until`], [`ProcessGuard`]…;
//! - real servers for the steps to talk to: [`net`] (HTTP, SMTP, a CA),
//!   [`app`] (a deployable web app), [`serve`] (`steward serve` itself),
//!   [`pg`] (scratch PostgreSQL databases).

pub mod app;
pub mod net;
pub mod pg;
pub mod serve;

mod outcome;
mod process;
mod project;
mod test;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

pub use outcome::Outcome;
pub use process::{
    OutsideFile, ProcessGuard, Spawned, assert_gone, pid_alive, read_pid, wait_for, wait_until,
};
pub use project::Project;
pub use test::Test;

/// Variables that change how `steward` behaves (CI detection, GitHub
/// annotations, colours, project, store and secrets discovery). Removed from
/// every command unless a test sets them on purpose: the suite itself may
/// run with `CI=true`.
pub const AMBIENT_VARS: &[&str] = &[
    "CI",
    "GITHUB_ACTIONS",
    "GITHUB_ACTOR",
    "GITHUB_SERVER_URL",
    "GITHUB_REPOSITORY",
    "GITHUB_RUN_ID",
    "GITLAB_CI",
    "GITLAB_USER_LOGIN",
    "CI_JOB_URL",
    "JENKINS_URL",
    "BUILD_USER_ID",
    "BUILD_URL",
    "BUILDKITE",
    "BUILDKITE_BUILD_CREATOR",
    "BUILDKITE_BUILD_CREATOR_EMAIL",
    "BUILDKITE_BUILD_URL",
    "STEWARD_PROJECT",
    "STEWARD_SECRETS_FILE",
    "STEWARD_STORE",
    "CLICOLOR_FORCE",
    "CLICOLOR",
];

/// The binary under test.
pub fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_steward"))
}

/// The repository's root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A name unique among every test running now (also across processes).
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// The user running the tests, as `id -un` says (the actor of CLI runs).
pub fn me() -> String {
    let out = std::process::Command::new("id")
        .arg("-un")
        .output()
        .expect("run id -un");
    String::from_utf8(out.stdout)
        .expect("a UTF-8 user name")
        .trim()
        .to_owned()
}

/// Creates (or empties) `path` and sets its modification time, as
/// `touch -d WHEN` understands it ("2 days ago").
pub fn touch(path: &Path, when: &str) {
    std::fs::write(path, b"old").expect("write the file");
    let ok = std::process::Command::new("touch")
        .arg("-d")
        .arg(when)
        .arg(path)
        .status()
        .expect("run touch");
    assert!(ok.success(), "touch -d {when} {}", path.display());
}

/// A text block written indented in the test's source, as the file it
/// stands for: the newline right after the opening quote goes, and so does
/// the indentation common to its lines (blank lines don't count), so that
///
/// ```ignore
/// unindent(r#"
///     steps:
///       - id: a
///         shell: echo a
///     "#)
/// ```
///
/// is `"steps:\n  - id: a\n    shell: echo a\n"`.
pub fn unindent(text: &str) -> String {
    let text = text.strip_prefix('\n').unwrap_or(text);
    let indent = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start_matches(' ').len())
        .min()
        .unwrap_or(0);
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        if line.trim().is_empty() {
            // A blank line, or the closing quote's indentation.
            if line.ends_with('\n') {
                out.push('\n');
            }
        } else {
            out.push_str(&line[indent..]);
        }
    }
    out
}

#[test]
fn unindent_strips_the_common_indentation_and_the_opening_newline() {
    let text = unindent(
        r#"
        steps:
          - id: a

            shell: echo "a"
        "#,
    );
    assert_eq!(text, "steps:\n  - id: a\n\n    shell: echo \"a\"\n");
    assert_eq!(unindent("  a\n    b"), "a\n  b");
    assert_eq!(unindent("a: 1\n"), "a: 1\n");
}
