//! How steps and runs end: the words every floor shares.

/// What kind of failure an attempt ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureClass {
    /// The attempt timed out.
    Timeout,
    /// A process exited with this non-zero code.
    ExitCode(i32),
    /// A connection could not be made (refused, DNS, TLS handshake…).
    Connect,
    /// An HTTP answer had an unexpected status.
    HttpStatus(u16),
    /// An `assert` expression was false.
    Assert,
    /// Anything else.
    Other,
}
