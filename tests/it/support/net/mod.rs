//! Real servers on loopback for the network step kinds: an HTTP(S) server
//! whose answers a test decides, an SMTP receiver (plain and STARTTLS), and
//! a throw-away CA.

pub mod http;
pub mod smtp;
pub mod tls;

use std::io::{Read, Write};

/// A stream a server reads and writes: TCP, or TLS over TCP.
pub trait Stream: Read + Write + Send {}

impl<T: Read + Write + Send> Stream for T {}

/// A loopback port that nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    drop(listener);
    port
}

/// Reads one line ending in `\n` (at most 64 KiB), without the line end;
/// `None` at the end of the stream.
pub fn read_line(stream: &mut dyn Stream) -> Option<String> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match stream.read(&mut byte) {
            Ok(0) | Err(_) => {
                return (!line.is_empty()).then(|| String::from_utf8_lossy(&line).into_owned());
            }
            Ok(_) => {
                if byte[0] == b'\n' {
                    if line.last() == Some(&b'\r') {
                        line.pop();
                    }
                    return Some(String::from_utf8_lossy(&line).into_owned());
                }
                line.push(byte[0]);
                if line.len() > 64 * 1024 {
                    return None;
                }
            }
        }
    }
}
