//! The server's log: one line on its stderr per thing that happened.

use std::io::Write;

/// One line on the server's stderr.
pub(crate) fn log(line: &str) {
    let _ = writeln!(anstream::stderr(), "{line}");
}
