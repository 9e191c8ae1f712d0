//! An SMTP receiver on 127.0.0.1:0: a real conversation (EHLO, STARTTLS
//! when given a TLS configuration, AUTH PLAIN/LOGIN, MAIL, RCPT, DATA) that
//! keeps each mail for the test to read.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::read_line;

/// A mail as received.
#[derive(Debug, Clone, Default)]
pub struct Mail {
    /// `MAIL FROM` address.
    pub from: String,
    /// `RCPT TO` addresses.
    pub to: Vec<String>,
    /// The message (headers and body), dot-unstuffed.
    pub data: String,
    /// Whether it came over TLS (after STARTTLS).
    pub tls: bool,
    /// `user:password` of an AUTH, if any.
    pub auth: Option<String>,
}

impl Mail {
    /// A header's value (unfolded).
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next().unwrap_or_default();
        let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
        unfolded.lines().find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }

    /// The body, after the headers, quoted-printable decoded when it is.
    pub fn body(&self) -> String {
        let body = self
            .data
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        let qp = self
            .header("content-transfer-encoding")
            .is_some_and(|e| e.eq_ignore_ascii_case("quoted-printable"));
        let body = if qp { decode_qp(&body) } else { body };
        body.replace("\r\n", "\n")
    }
}

enum Conn {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ServerConnection, TcpStream>>),
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            Conn::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(buf),
            Conn::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(s) => s.flush(),
        }
    }
}

/// A running SMTP receiver; stopped when dropped.
pub struct SmtpServer {
    /// Its port on 127.0.0.1.
    pub port: u16,
    mails: Arc<Mutex<Vec<Mail>>>,
    stop: Arc<AtomicBool>,
}

impl SmtpServer {
    /// Starts a receiver; with `tls`, it offers STARTTLS.
    pub fn start(tls: Option<Arc<rustls::ServerConfig>>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let port = listener.local_addr().expect("address").port();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (kept, halt) = (mails.clone(), stop.clone());
        std::thread::spawn(move || {
            for tcp in listener.incoming() {
                if halt.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(tcp) = tcp else { continue };
                let _ = tcp.set_read_timeout(Some(Duration::from_secs(30)));
                converse(tcp, tls.clone(), &kept);
            }
        });
        SmtpServer { port, mails, stop }
    }

    /// The mails received so far.
    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().expect("mails").clone()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn reply(conn: &mut Conn, text: &str) -> bool {
    conn.write_all(format!("{text}\r\n").as_bytes())
        .and_then(|()| conn.flush())
        .is_ok()
}

fn decode(text: &str) -> String {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn converse(tcp: TcpStream, tls: Option<Arc<rustls::ServerConfig>>, mails: &Mutex<Vec<Mail>>) {
    let mut conn = Some(Conn::Plain(tcp));
    let mut mail = Mail::default();
    let mut auth = None;
    macro_rules! c {
        () => {
            match conn.as_mut() {
                Some(c) => c,
                None => return,
            }
        };
    }
    if !reply(c!(), "220 test.local ESMTP") {
        return;
    }
    while let Some(line) = read_line(c!()) {
        let upper = line.to_ascii_uppercase();
        let secure = matches!(conn, Some(Conn::Tls(_)));
        let ok = if upper.starts_with("EHLO") {
            let mut lines = vec!["250-test.local".to_owned()];
            if tls.is_some() && !secure {
                lines.push("250-STARTTLS".into());
            }
            lines.push("250-AUTH PLAIN LOGIN".into());
            lines.push("250 8BITMIME".into());
            reply(c!(), &lines.join("\r\n"))
        } else if upper.starts_with("HELO") {
            reply(c!(), "250 test.local")
        } else if upper == "STARTTLS" {
            let Some(config) = tls.clone() else {
                reply(c!(), "502 no TLS here");
                continue;
            };
            if !reply(c!(), "220 go ahead") {
                return;
            }
            let Some(Conn::Plain(tcp)) = conn.take() else {
                return;
            };
            let Ok(server) = rustls::ServerConnection::new(config) else {
                return;
            };
            conn = Some(Conn::Tls(Box::new(rustls::StreamOwned::new(server, tcp))));
            mail = Mail::default();
            true
        } else if let Some(rest) = upper.strip_prefix("AUTH PLAIN") {
            let arg = line[line.len() - rest.len()..].trim().to_owned();
            let arg = if arg.is_empty() {
                reply(c!(), "334 ");
                read_line(c!()).unwrap_or_default()
            } else {
                arg
            };
            let decoded = decode(&arg);
            let parts: Vec<&str> = decoded.split('\0').collect();
            auth = Some(format!(
                "{}:{}",
                parts.get(1).unwrap_or(&""),
                parts.get(2).unwrap_or(&"")
            ));
            reply(c!(), "235 authenticated")
        } else if upper.starts_with("AUTH LOGIN") {
            reply(c!(), "334 VXNlcm5hbWU6");
            let user = decode(&read_line(c!()).unwrap_or_default());
            reply(c!(), "334 UGFzc3dvcmQ6");
            let password = decode(&read_line(c!()).unwrap_or_default());
            auth = Some(format!("{user}:{password}"));
            reply(c!(), "235 authenticated")
        } else if upper.starts_with("MAIL FROM:") {
            mail = Mail {
                from: address(&line),
                tls: secure,
                auth: auth.clone(),
                ..Mail::default()
            };
            reply(c!(), "250 ok")
        } else if upper.starts_with("RCPT TO:") {
            mail.to.push(address(&line));
            reply(c!(), "250 ok")
        } else if upper == "DATA" {
            if !reply(c!(), "354 end with <CRLF>.<CRLF>") {
                return;
            }
            let mut data = Vec::new();
            loop {
                let Some(line) = read_line(c!()) else { return };
                if line == "." {
                    break;
                }
                data.push(line.strip_prefix('.').map_or(line.clone(), str::to_owned));
            }
            mail.data = data.join("\r\n");
            mails.lock().expect("mails").push(std::mem::take(&mut mail));
            reply(c!(), "250 queued as 1")
        } else if upper == "RSET" || upper == "NOOP" {
            reply(c!(), "250 ok")
        } else if upper == "QUIT" {
            reply(c!(), "221 bye");
            return;
        } else {
            reply(c!(), "502 not implemented")
        };
        if !ok {
            return;
        }
    }
}

/// Quoted-printable: `=\r\n` is a soft line break, `=XX` a byte.
fn decode_qp(text: &str) -> String {
    let text = text.replace("=\r\n", "");
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'=', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn address(line: &str) -> String {
    let start = line
        .find('<')
        .map_or(line.find(':').map_or(0, |i| i + 1), |i| i + 1);
    let end = line.rfind('>').unwrap_or(line.len());
    line[start..end.max(start)].trim().to_owned()
}
