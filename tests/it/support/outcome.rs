//! How a `steward` command went, and readers for its JSON report.

use std::time::Duration;

use serde_json::Value;

/// How a `steward` command went.
#[derive(Debug)]
pub struct Outcome {
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// Wall time of the command (from when it was waited for).
    pub elapsed: Duration,
    /// The `--output json` report, parsed.
    pub json: Option<Value>,
}

impl Outcome {
    /// Parses stdout into [`json`](Self::json); panics with the output if
    /// it is not one JSON document.
    pub fn parse_json(&mut self) {
        self.json = Some(self.stdout_json());
    }

    /// Stdout parsed as JSON; panics with the output if it is not JSON.
    #[track_caller]
    pub fn stdout_json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not one JSON document ({e})\n--- stdout\n{}\n--- stderr\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// Panics with the output unless the exit code is `code`.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// The JSON report.
    pub fn report(&self) -> &Value {
        self.json.as_ref().expect("run with --output json")
    }

    /// A step's record in the JSON report.
    pub fn step(&self, id: &str) -> &Value {
        let step = &self.report()["steps"][id];
        assert!(
            step.is_object(),
            "no step `{id}` in the report:\n{:#}",
            self.report()
        );
        step
    }

    /// A step's status.
    pub fn status(&self, id: &str) -> &str {
        self.step(id)["status"].as_str().unwrap_or("?")
    }

    /// A step's attempts.
    pub fn attempts(&self, id: &str) -> u64 {
        self.step(id)["attempts"].as_u64().expect("attempts")
    }

    /// A step's error, or "".
    pub fn error(&self, id: &str) -> &str {
        self.step(id)["error"].as_str().unwrap_or("")
    }

    /// The run's status.
    pub fn run_status(&self) -> &str {
        self.report()["status"].as_str().unwrap_or("?")
    }

    /// The run id.
    pub fn run_id(&self) -> String {
        self.report()["run_id"].as_str().expect("run_id").to_owned()
    }

    /// Everything the command printed, for leak checks.
    pub fn all_output(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}
