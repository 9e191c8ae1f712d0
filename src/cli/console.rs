//! The terminal as the host's console: problems on stderr, approvals asked
//! at the terminal (or how to give them from another one).

use std::io::{BufRead, IsTerminal, Write};

use crate::host::{Answer, Console, Waiting};

use super::print_error;

/// The console of `steward run` and `steward resume`.
pub(super) struct Terminal {
    /// Whether approvals may be asked here (`--output text`; and only when
    /// stdin is a terminal).
    pub(super) ask: bool,
}

impl Console for Terminal {
    fn problem(&self, _run_id: &str, message: &str) {
        print_error(message, None);
    }

    fn approval_waiting(&self, waiting: &Waiting<'_>, answer: Answer) {
        if self.ask && waiting.may_decide && std::io::stdin().is_terminal() {
            ask(waiting, answer);
        } else {
            let _ = writeln!(
                anstream::stderr(),
                "waiting for approval: steward approve {} {} [--comment TEXT] (or steward reject …)",
                waiting.run_id,
                waiting.step
            );
        }
    }
}

/// Asks at the terminal, in a thread of its own (a read of stdin can't be
/// cancelled); the answer goes to the store like any other decision, so a
/// decision made elsewhere first wins and the question is moot.
fn ask(waiting: &Waiting<'_>, answer: Answer) {
    let Waiting {
        run_id,
        step,
        message,
        ..
    } = *waiting;
    let _ = writeln!(
        anstream::stderr(),
        "approval needed for `{step}`: {message}\n  approve? [y/N, then an optional comment] (or from another terminal: steward approve {run_id} {step})"
    );
    let spawned = std::thread::Builder::new()
        .name("steward-approval".into())
        .spawn(move || {
            let mut line = String::new();
            if std::io::stdin().lock().read_line(&mut line).is_err() {
                return;
            }
            let line = line.trim();
            let (word, comment) = line.split_once(' ').unwrap_or((line, ""));
            let approved = matches!(word.to_ascii_lowercase().as_str(), "y" | "yes");
            let comment = (!comment.trim().is_empty()).then(|| comment.trim().to_owned());
            match answer.record(approved, comment, "terminal") {
                Ok(Ok(())) => {}
                Ok(Err(refusal)) => {
                    let _ = writeln!(anstream::stderr(), "{refusal}");
                }
                Err(e) => print_error(&e.to_string(), None),
            }
        });
    if spawned.is_err() {
        let _ = writeln!(
            anstream::stderr(),
            "can't ask at this terminal; use steward approve"
        );
    }
}
