//! `chatd backup <file> [--with-media <dir>]`: a copy of an instance that
//! can be taken while its server runs.

use std::path::Path;

use anyhow::Context;
use rusqlite::Connection;

use crate::storage::media::FOLDERS;

/// Copies the database with SQLite's online backup API in one step, so the
/// copy is one snapshot even while the server writes; with `media_to`,
/// also copies the media folder.
pub fn backup(data_dir: &Path, file: &Path, media_to: Option<&Path>) -> anyhow::Result<()> {
    let source = super::open_read_only(data_dir)?;
    anyhow::ensure!(
        !file.exists(),
        "{} exists already; choose a new file",
        file.display()
    );
    let mut target =
        Connection::open(file).with_context(|| format!("cannot create {}", file.display()))?;
    {
        let backup = rusqlite::backup::Backup::new(&source, &mut target)?;
        backup.step(-1)?;
    }
    let check: String = target.query_row("PRAGMA integrity_check", [], |row| row.get(0))?;
    anyhow::ensure!(
        check == "ok",
        "the copy failed its integrity check: {check}"
    );
    println!("database copied to {}", file.display());
    if let Some(media_to) = media_to {
        let copied = copy_media(&data_dir.join("media"), media_to)?;
        println!("{copied} media files copied to {}", media_to.display());
    }
    Ok(())
}

fn copy_media(from: &Path, to: &Path) -> anyhow::Result<usize> {
    let mut copied = 0;
    for folder in FOLDERS {
        let target = to.join(folder);
        std::fs::create_dir_all(&target)
            .with_context(|| format!("cannot create {}", target.display()))?;
        let Ok(entries) = std::fs::read_dir(from.join(folder)) else {
            continue;
        };
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name();
            // Skip half-written uploads (see media::write_atomically).
            if entry.file_type()?.is_file() && !name.to_string_lossy().ends_with(".part") {
                std::fs::copy(entry.path(), target.join(&name))?;
                copied += 1;
            }
        }
    }
    Ok(copied)
}
