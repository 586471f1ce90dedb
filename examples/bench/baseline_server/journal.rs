//! The baseline's optional journal (`baseline --fsync-dir <DIR>`): each
//! `message` frame is written and `fdatasync`ed before it is fanned out,
//! on the task that read it, as the cheapest durable server would do it.
//! `loadgen` runs this as a reference next to chatd, whose commit is one
//! `fdatasync` of SQLite's WAL: the difference between the two is what
//! chatd adds beyond the one fsync per message (issue 12's "message
//! latency close to one fsync").
//!
//! The file is a ring written over in place, not appended to: SQLite
//! reuses its WAL from the start after each checkpoint, so chatd's commits
//! also write blocks that are already allocated, and an `fdatasync` of an
//! appended block also writes the inode (8 KiB: p50 0.35 against 0.16 ms
//! on the benchmark machine, BENCHMARKS.md).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Mutex;

/// Bytes of the ring, written with zeros (and synced) when it is created.
const RING: u64 = 64 << 20;

pub struct Journal {
    /// The file and where the next frame goes.
    file: Mutex<(File, u64)>,
}

impl Journal {
    /// Creates the ring in `dir` (removed from the directory at once: it
    /// lives as long as the process).
    pub fn create(dir: &Path) -> io::Result<Journal> {
        let path = dir.join(format!("baseline-journal-{}", std::process::id()));
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)?;
        std::fs::remove_file(&path)?;
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..RING / zeros.len() as u64 {
            file.write_all(&zeros)?;
        }
        file.sync_all()?;
        Ok(Journal {
            file: Mutex::new((file, 0)),
        })
    }

    /// Writes `frame` and a newline, and waits for the disk to have it.
    pub fn append(&self, frame: &str) -> io::Result<()> {
        let mut record = Vec::with_capacity(frame.len() + 1);
        record.extend_from_slice(frame.as_bytes());
        record.push(b'\n');
        let mut guard = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let (file, at) = &mut *guard;
        if *at + record.len() as u64 > RING {
            *at = 0;
        }
        file.write_all_at(&record, *at)?;
        *at += record.len() as u64;
        file.sync_data()
    }
}
