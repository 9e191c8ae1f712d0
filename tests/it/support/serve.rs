//! A `steward serve` process for the server tests: started on
//! `127.0.0.1:0` in a project, its address read from its `listening on`
//! line, its output kept, killed when dropped.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use reqwest::blocking::Client;

use super::Project;

/// A running `steward serve`.
pub struct Served {
    /// The process.
    pub child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// An HTTP client with a bounded timeout.
    pub client: Client,
    output: Arc<Mutex<Vec<String>>>,
}

impl Served {
    /// Starts `steward serve --listen 127.0.0.1:0 EXTRA…` with `env` set.
    pub fn start(p: &Project, env: &[(&str, &str)], extra: &[&str]) -> Served {
        let mut cmd = p
            .test()
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .envs(env.iter().copied())
            .command();
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("start steward serve");
        let output = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let kept = output.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                kept.lock().unwrap().push(line);
            }
        });
        let kept = output.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("listening on ") {
                    let _ = tx.send(addr.to_owned());
                }
                kept.lock().unwrap().push(line);
            }
        });
        let base = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(base) => base,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("no `listening on` line: {:?}", output.lock().unwrap());
            }
        };
        Served {
            child,
            base,
            client: Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("client"),
            output,
        }
    }

    /// The server's URL for `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Everything the server printed so far.
    pub fn output(&self) -> String {
        self.output.lock().unwrap().join("\n")
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
