//! The storage layer's error: what went wrong below the domain, sorted
//! into the kinds the layers above answer differently. A full disk and a
//! database locked by another process are conditions an operator can fix
//! (507 / 503), not bugs (500).

use std::fmt;

/// What the log says when a query finds a damaged page.
const DAMAGED: &str =
    "the database file is damaged; stop chatd and run `chatd check`, or restore a backup";

/// Why a storage operation failed.
#[derive(Debug)]
pub enum StorageError {
    /// The disk (or the filesystem holding the data directory) is full.
    Full,
    /// Another process held the database lock longer than the busy timeout.
    Busy,
    /// Anything else: a bug, a damaged file, an I/O error.
    Other(anyhow::Error),
}

impl StorageError {
    pub fn other(error: impl Into<anyhow::Error>) -> StorageError {
        StorageError::Other(error.into())
    }

    /// An error of the same kind, for one more caller of a write that
    /// failed for several at once.
    pub fn again(&self) -> StorageError {
        match self {
            StorageError::Full => StorageError::Full,
            StorageError::Busy => StorageError::Busy,
            StorageError::Other(error) => StorageError::other(anyhow::anyhow!("{error:#}")),
        }
    }
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StorageError::Full => f.write_str("storage is full"),
            StorageError::Busy => f.write_str("the database is locked by another process"),
            StorageError::Other(error) => write!(f, "{error:#}"),
        }
    }
}

impl std::error::Error for StorageError {}

impl From<rusqlite::Error> for StorageError {
    fn from(error: rusqlite::Error) -> StorageError {
        match &error {
            rusqlite::Error::SqliteFailure(e, _) => match e.code {
                rusqlite::ErrorCode::DiskFull => StorageError::Full,
                // The shared-memory index of the WAL could not grow: on a
                // full disk that is the first write to fail.
                rusqlite::ErrorCode::SystemIoFailure
                    if e.extended_code == rusqlite::ffi::SQLITE_IOERR_SHMSIZE =>
                {
                    StorageError::Full
                }
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked => {
                    StorageError::Busy
                }
                // The start only reads the first pages; damage further in
                // shows up here, and the log line is what tells the
                // operator what to do.
                rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase => {
                    StorageError::Other(anyhow::Error::new(error).context(DAMAGED))
                }
                _ => StorageError::Other(error.into()),
            },
            _ => StorageError::Other(error.into()),
        }
    }
}

impl From<std::io::Error> for StorageError {
    fn from(error: std::io::Error) -> StorageError {
        // ENOSPC (28) and EDQUOT (122) both mean "no room to write".
        match error.raw_os_error() {
            Some(28) | Some(122) => StorageError::Full,
            _ => StorageError::Other(error.into()),
        }
    }
}

impl From<anyhow::Error> for StorageError {
    fn from(error: anyhow::Error) -> StorageError {
        match error.downcast::<std::io::Error>() {
            Ok(io) => io.into(),
            Err(error) => match error.downcast::<rusqlite::Error>() {
                Ok(sqlite) => sqlite.into(),
                Err(error) => StorageError::Other(error),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite(extended_code: std::ffi::c_int) -> StorageError {
        rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(extended_code), None).into()
    }

    #[test]
    fn a_full_disk_is_full_whichever_write_failed() {
        assert!(matches!(
            sqlite(rusqlite::ffi::SQLITE_FULL),
            StorageError::Full
        ));
        assert!(matches!(
            sqlite(rusqlite::ffi::SQLITE_IOERR_SHMSIZE),
            StorageError::Full
        ));
        let enospc = std::io::Error::from_raw_os_error(28);
        assert!(matches!(StorageError::from(enospc), StorageError::Full));
        assert!(matches!(
            sqlite(rusqlite::ffi::SQLITE_BUSY),
            StorageError::Busy
        ));
        assert!(matches!(
            sqlite(rusqlite::ffi::SQLITE_IOERR_READ),
            StorageError::Other(_)
        ));
    }

    #[test]
    fn a_damaged_page_is_reported_with_what_to_do() {
        let damaged = sqlite(rusqlite::ffi::SQLITE_CORRUPT);
        assert!(matches!(damaged, StorageError::Other(_)));
        let said = damaged.to_string();
        assert!(
            said.starts_with(&format!("{DAMAGED}: ")) && said.contains("malformed"),
            "{said}"
        );
    }

    #[test]
    fn every_caller_of_a_failed_write_hears_the_same_kind_of_failure() {
        assert!(matches!(StorageError::Full.again(), StorageError::Full));
        assert!(matches!(StorageError::Busy.again(), StorageError::Busy));
        let other = StorageError::other(anyhow::anyhow!("bad sector"));
        match other.again() {
            StorageError::Other(error) => assert_eq!(error.to_string(), "bad sector"),
            again => panic!("{again:?}"),
        }
    }
}
