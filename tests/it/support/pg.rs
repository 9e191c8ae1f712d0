//! PostgreSQL for the tests: the server from `STEWARD_TEST_DATABASE_URL`
//! (default `postgres://postgres@127.0.0.1:5432/test`), one scratch
//! database per test, dropped when the test ends, and a fake server that
//! asks for a password and refuses it.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The server the tests use.
pub fn server_url() -> String {
    std::env::var("STEWARD_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// `url` with its database replaced by `db`.
pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let authority_end = base.find("://").map_or(0, |i| i + 3);
    let cut = base[authority_end..]
        .find('/')
        .map_or(base.len(), |i| authority_end + i);
    format!("{}/{db}{query}", &base[..cut])
}

/// Runs SQL with psql; panics with its output on failure.
pub fn psql(url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args([
            "-X",
            "-q",
            "-At",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            url,
            "-c",
            sql,
        ])
        .output()
        .expect("run psql (is PostgreSQL's client installed?)");
    assert!(
        out.status.success(),
        "psql failed on `{sql}`: {}\nThese tests need PostgreSQL at STEWARD_TEST_DATABASE_URL \
         (default postgres://postgres@127.0.0.1:5432/test); start it with \
         `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A database of its own for one test, dropped (even with connections
/// still open) when the test ends.
pub struct ScratchDb {
    /// Its name.
    pub name: String,
    /// A connection string for it.
    pub url: String,
}

impl ScratchDb {
    /// Creates `steward_test_<unique>`.
    pub fn new() -> Self {
        let name = super::unique("steward_test").replace('-', "_");
        psql(&server_url(), &format!("CREATE DATABASE {name}"));
        ScratchDb {
            url: with_database(&server_url(), &name),
            name,
        }
    }

    /// Runs SQL in it.
    pub fn sql(&self, sql: &str) -> String {
        psql(&self.url, sql)
    }
}

impl Drop for ScratchDb {
    fn drop(&mut self) {
        drop_database(&self.name);
    }
}

/// Drops a database if it exists, closing its connections.
pub fn drop_database(name: &str) {
    let _ = Command::new("psql")
        .args(["-X", "-q", "-d", &server_url(), "-c"])
        .arg(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .output();
}

/// Whether a database exists on the server.
pub fn database_exists(name: &str) -> bool {
    psql(
        &server_url(),
        &format!("SELECT count(*) FROM pg_database WHERE datname = '{name}'"),
    ) == "1"
}

/// A fake PostgreSQL server on 127.0.0.1 that asks for a cleartext password
/// and refuses it, as a server with password authentication does (the real
/// one here trusts every local login). It stops after 30 s.
pub struct RefusingServer {
    /// Its port.
    pub port: u16,
    /// The passwords clients sent.
    pub received: Arc<Mutex<Vec<String>>>,
}

impl RefusingServer {
    /// Starts it in a thread.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a port");
        let port = listener.local_addr().expect("local address").port();
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let received = Arc::new(Mutex::new(Vec::new()));
        let sink = received.clone();
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                match listener.accept() {
                    Ok((stream, _)) => {
                        if let Some(password) = refuse(stream) {
                            sink.lock().expect("lock").push(password);
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        RefusingServer { port, received }
    }
}

fn read_exact(stream: &mut TcpStream, n: usize) -> Option<Vec<u8>> {
    let mut buf = vec![0; n];
    stream.read_exact(&mut buf).ok()?;
    Some(buf)
}

fn be32(b: &[u8]) -> usize {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize
}

/// One connection: startup (after declining TLS), a password request, the
/// password, then `28P01`.
fn refuse(mut stream: TcpStream) -> Option<String> {
    stream.set_nonblocking(false).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    loop {
        let len = be32(&read_exact(&mut stream, 4)?);
        let body = read_exact(&mut stream, len.checked_sub(4)?)?;
        if be32(&body) == 80877103 {
            stream.write_all(b"N").ok()?; // no TLS here
            continue;
        }
        break;
    }
    // AuthenticationCleartextPassword.
    stream.write_all(&[b'R', 0, 0, 0, 8, 0, 0, 0, 3]).ok()?;
    let tag = read_exact(&mut stream, 1)?;
    let len = be32(&read_exact(&mut stream, 4)?);
    let body = read_exact(&mut stream, len.checked_sub(4)?)?;
    let password = (tag == b"p").then(|| {
        String::from_utf8_lossy(&body)
            .trim_end_matches('\0')
            .to_owned()
    });
    let mut fields = Vec::new();
    for (code, text) in [
        (b'S', "FATAL"),
        (b'V', "FATAL"),
        (b'C', "28P01"),
        (b'M', "password authentication failed for user \"app\""),
    ] {
        fields.push(code);
        fields.extend_from_slice(text.as_bytes());
        fields.push(0);
    }
    fields.push(0);
    let mut message = vec![b'E'];
    message.extend_from_slice(&((fields.len() + 4) as u32).to_be_bytes());
    message.extend_from_slice(&fields);
    stream.write_all(&message).ok()?;
    password
}
