//! Locks that a dying process gives up by itself: `flock` on small files
//! beside the SQLite database (`steward.db.locks/`). The kernel releases
//! them when their process ends, however it ends, so a run whose lock is
//! free has no live process, and a concurrency key held by a killed run is
//! free again. (A PostgreSQL store would use session advisory locks.)

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use sha2::{Digest, Sha256};

use super::StoreError;

/// A lock held for as long as this value lives.
pub struct Lease {
    /// Unlocked when dropped.
    _file: Flock<File>,
    /// Removed on release (run leases), while still locked, so that no
    /// prober ever locks a file its owner is about to delete.
    remove: Option<PathBuf>,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("remove", &self.remove)
            .finish()
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(path) = &self.remove {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// The lock folder of the database at `db`.
pub(super) fn folder(db: &Path) -> PathBuf {
    let mut name = db.file_name().unwrap_or_default().to_os_string();
    name.push(".locks");
    db.with_file_name(name)
}

fn io(db: &Path, source: std::io::Error) -> StoreError {
    StoreError::Lock {
        path: db.to_path_buf(),
        source,
    }
}

fn open(db: &Path, name: &str) -> Result<(File, PathBuf), StoreError> {
    let dir = folder(db);
    std::fs::create_dir_all(&dir).map_err(|e| io(db, e))?;
    let path = dir.join(name);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| io(db, e))?;
    Ok((file, path))
}

/// Locks `file` without waiting: `Ok(None)` when another holds it.
fn try_flock(file: File, arg: FlockArg) -> Result<Option<Flock<File>>, std::io::Error> {
    match Flock::lock(file, arg) {
        Ok(locked) => Ok(Some(locked)),
        Err((_, Errno::EWOULDBLOCK)) => Ok(None),
        Err((_, errno)) => Err(std::io::Error::from(errno)),
    }
}

fn run_file(run_id: &str) -> String {
    // Run ids are UUIDs; anything else is hashed so it is a safe file name.
    if run_id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        format!("run-{run_id}.lock")
    } else {
        format!("run-{}.lock", hex::encode(&Sha256::digest(run_id)[..16]))
    }
}

/// Takes the run's lock, or `None` when a live process holds it.
pub(super) fn claim_run(db: &Path, run_id: &str) -> Result<Option<Lease>, StoreError> {
    let (file, path) = open(db, &run_file(run_id))?;
    let locked = try_flock(file, FlockArg::LockExclusiveNonblock).map_err(|e| io(db, e))?;
    Ok(locked.map(|file| Lease {
        _file: file,
        remove: Some(path),
    }))
}

/// Whether a live process holds the run's lock.
pub(super) fn run_alive(db: &Path, run_id: &str) -> Result<bool, StoreError> {
    let path = folder(db).join(run_file(run_id));
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(io(db, e)),
    };
    let probe = try_flock(file, FlockArg::LockSharedNonblock).map_err(|e| io(db, e))?;
    Ok(probe.is_none())
}

/// Takes a concurrency key for `run_id`, or says who holds it. Key files
/// stay: deleting one could let two processes lock two different files of
/// the same name.
pub(super) fn try_key(
    db: &Path,
    key: &str,
    run_id: &str,
) -> Result<Result<Lease, super::Held>, StoreError> {
    let name = format!("key-{}.lock", hex::encode(&Sha256::digest(key)[..16]));
    let (file, path) = open(db, &name)?;
    match try_flock(file, FlockArg::LockExclusiveNonblock).map_err(|e| io(db, e))? {
        Some(mut locked) => {
            let written = locked
                .set_len(0)
                .and_then(|()| locked.rewind())
                .and_then(|()| locked.write_all(run_id.as_bytes()));
            written.map_err(|e| io(db, e))?;
            Ok(Ok(Lease {
                _file: locked,
                remove: None,
            }))
        }
        None => {
            let mut holder = String::new();
            let read = File::open(&path).and_then(|mut f| f.read_to_string(&mut holder));
            let holder = read
                .ok()
                .map(|_| holder.trim().to_owned())
                .filter(|h| !h.is_empty());
            Ok(Err(super::Held { holder }))
        }
    }
}
