//! Reading a child's output: live line streaming plus a bounded tail capture.

use std::sync::{Arc, Mutex, PoisonError};

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc::UnboundedSender;

use super::{OutputLine, Stream};

/// A line longer than this is streamed in pieces of at most this many bytes,
/// so that a process printing without newlines cannot grow memory unboundedly.
pub(super) const MAX_LINE: usize = 64 * 1024;

/// Size of one read from a pipe.
const CHUNK: usize = 8 * 1024;

/// Keeps the last `limit` bytes written to it.
#[derive(Debug)]
pub(super) struct TailBuffer {
    buf: Vec<u8>,
    limit: usize,
    truncated: bool,
}

impl TailBuffer {
    /// An empty buffer keeping at most `limit` bytes.
    pub(super) fn new(limit: usize) -> Self {
        Self {
            buf: Vec::new(),
            limit,
            truncated: false,
        }
    }

    /// Appends `data`, dropping the oldest bytes beyond the limit. The buffer
    /// may hold up to about twice the limit between compactions, which keeps
    /// appends amortised O(len).
    pub(super) fn push(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        if self.limit == 0 {
            self.truncated = true;
            return;
        }
        self.buf.extend_from_slice(data);
        let high_water = self.limit.saturating_mul(2).max(self.limit + CHUNK);
        if self.buf.len() > high_water {
            self.compact();
        }
    }

    fn compact(&mut self) {
        if self.buf.len() > self.limit {
            let excess = self.buf.len() - self.limit;
            self.buf.drain(..excess);
            self.truncated = true;
        }
    }

    /// The kept bytes as text (invalid UTF-8 replaced lossily) and whether
    /// anything was dropped. When the head was cut, a partial UTF-8 sequence
    /// at the start of the kept bytes is skipped rather than shown as `�`.
    pub(super) fn snapshot(&self) -> (String, bool) {
        let start = self.buf.len().saturating_sub(self.limit);
        let truncated = self.truncated || start > 0;
        let mut kept = &self.buf[start..];
        if truncated {
            let skip = kept
                .iter()
                .take(3)
                .take_while(|b| is_continuation(**b))
                .count();
            kept = &kept[skip..];
        }
        (String::from_utf8_lossy(kept).into_owned(), truncated)
    }
}

fn is_continuation(byte: u8) -> bool {
    byte & 0b1100_0000 == 0b1000_0000
}

/// The capture shared between a reader task and the runner, so that the
/// runner can still take what was read if it has to abandon the reader.
pub(super) type SharedTail = Arc<Mutex<TailBuffer>>;

/// Takes a snapshot of a shared capture, tolerating a poisoned lock.
pub(super) fn snapshot(tail: &SharedTail) -> (String, bool) {
    tail.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .snapshot()
}

/// Splits a byte stream into lines for the live sink.
#[derive(Debug, Default)]
pub(super) struct LineSplitter {
    pending: Vec<u8>,
}

impl LineSplitter {
    /// Feeds `data`, calling `emit` for each complete line (without its
    /// `\n` or `\r\n`) and for each `MAX_LINE`-sized piece of an overlong one.
    pub(super) fn feed(&mut self, mut data: &[u8], emit: &mut impl FnMut(String)) {
        while !data.is_empty() {
            match data.iter().position(|b| *b == b'\n') {
                Some(i) => {
                    self.pending.extend_from_slice(&data[..i]);
                    self.flush_overlong(emit);
                    emit(take_line(&mut self.pending));
                    data = &data[i + 1..];
                }
                None => {
                    self.pending.extend_from_slice(data);
                    self.flush_overlong(emit);
                    data = &[];
                }
            }
        }
    }

    /// Emits what is left after the end of the stream, if anything.
    pub(super) fn finish(&mut self, emit: &mut impl FnMut(String)) {
        if !self.pending.is_empty() {
            emit(take_line(&mut self.pending));
        }
    }

    fn flush_overlong(&mut self, emit: &mut impl FnMut(String)) {
        while self.pending.len() > MAX_LINE {
            let mut cut = MAX_LINE;
            // Do not split a UTF-8 sequence (a valid one is at most 4 bytes).
            while cut > MAX_LINE - 3 && is_continuation(self.pending[cut]) {
                cut -= 1;
            }
            let rest = self.pending.split_off(cut);
            let piece = std::mem::replace(&mut self.pending, rest);
            emit(String::from_utf8_lossy(&piece).into_owned());
        }
    }
}

fn take_line(pending: &mut Vec<u8>) -> String {
    if pending.last() == Some(&b'\r') {
        pending.pop();
    }
    let line = String::from_utf8_lossy(pending).into_owned();
    pending.clear();
    line
}

/// Reads `reader` to its end, capturing into `tail` and streaming lines to
/// `sink` (a closed sink is ignored: capture goes on).
pub(super) async fn pump<R>(
    mut reader: R,
    stream: Stream,
    tail: SharedTail,
    sink: Option<UnboundedSender<OutputLine>>,
) where
    R: AsyncRead + Unpin,
{
    let mut chunk = vec![0u8; CHUNK];
    let mut splitter = LineSplitter::default();
    let mut emit = |line: String| {
        if let Some(sink) = &sink {
            // The receiver may be gone; output is still captured.
            let _ = sink.send(OutputLine { stream, line });
        }
    };
    loop {
        let n = match reader.read(&mut chunk).await {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(err) => {
                tracing::warn!(?stream, error = %err, "reading process output failed");
                break;
            }
        };
        let data = &chunk[..n];
        tail.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(data);
        if sink.is_some() {
            splitter.feed(data, &mut emit);
        }
    }
    splitter.finish(&mut emit);
}
