//! `chatd backup <file> [--with-media <dir>]`: a copy of an instance that
//! can be taken while its server runs.

use std::collections::HashSet;
use std::path::Path;

use anyhow::Context;
use rusqlite::Connection;

use crate::ops::out::outln;
use crate::storage::media::{self, DEFAULT_CHAT_IMG, FOLDERS};

/// Database snapshots taken at most when files their media copy needs
/// vanish in between (see [`copy_media`]); each try narrows the window.
const ATTEMPTS: usize = 5;

/// Copies the database with SQLite's online backup API in one step, so the
/// copy is one snapshot even while the server writes; with `media_to`,
/// also copies the media folder, so that every file the copy names is there
/// (see `copy_media`).
pub fn backup(data_dir: &Path, file: &Path, media_to: Option<&Path>) -> anyhow::Result<()> {
    let source = super::open_read_only(data_dir)?;
    anyhow::ensure!(
        !file.exists(),
        "{} exists already; choose a new file",
        file.display()
    );
    let media_from = data_dir.join("media");
    // Files first: one uploaded and then replaced while the database is
    // copied is still caught (see copy_media).
    if let Some(media_to) = media_to {
        copy_all(&media_from, media_to)?;
    }
    let mut target =
        Connection::open(file).with_context(|| format!("cannot create {}", file.display()))?;
    // What each snapshot's media copy found gone.
    let mut vanished: Vec<String> = Vec::new();
    let copied = loop {
        snapshot(&source, &mut target)?;
        let Some(media_to) = media_to else {
            break None;
        };
        match copy_media(&media_from, media_to, &media::named_files(&target)?)? {
            MediaCopy::Complete(copied) => break Some((copied, media_to)),
            // A newer snapshot names the file that replaced it.
            MediaCopy::Vanished(path) => vanished.push(path),
        }
        if vanished.len() == ATTEMPTS {
            return Err(gave_up(&vanished, &media_from));
        }
    };
    outln!("database copied to {}", file.display());
    if let Some((copied, media_to)) = copied {
        outln!("{copied} media files copied to {}", media_to.display());
    }
    Ok(())
}

/// Why the backup stopped after [`ATTEMPTS`] snapshots whose media copies
/// each found a named file gone.
fn gave_up(vanished: &[String], media_from: &Path) -> anyhow::Error {
    // The same file each time: it was gone before the backup began.
    if vanished.iter().all(|path| *path == vanished[0]) {
        return anyhow::anyhow!(
            "{} is named by the database but missing from {}; `chatd check` lists every such file",
            vanished[0],
            media_from.display()
        );
    }
    anyhow::anyhow!(
        "images were replaced faster than the backup could copy them ({ATTEMPTS} tries); run the backup again"
    )
}

/// Replaces the target's content with one snapshot of the source, checked.
fn snapshot(source: &Connection, target: &mut Connection) -> anyhow::Result<()> {
    rusqlite::backup::Backup::new(source, target)?.step(-1)?;
    let check: String = target.query_row("PRAGMA integrity_check", [], |row| row.get(0))?;
    anyhow::ensure!(
        check == "ok",
        "the copy failed its integrity check: {check}"
    );
    Ok(())
}

/// How the second pass over the media went.
enum MediaCopy {
    /// Every named file is there (this many, with the default image).
    Complete(usize),
    /// This named file is gone from the data directory too.
    Vanished(String),
}

/// Completes the copy of the media folder for a database copy naming
/// `named`: copies named files the first pass missed (uploaded since), and
/// drops copied files the database copy does not name (replaced or deleted
/// meanwhile). A named file is on disk before its row commits and removed
/// only after a later commit, so one of the passes finds it unless it was
/// both uploaded after the first and replaced before this one: then a
/// newer snapshot is needed.
fn copy_media(from: &Path, to: &Path, named: &HashSet<String>) -> anyhow::Result<MediaCopy> {
    // In order, so a file missing in every snapshot is the one reported.
    let mut in_order: Vec<&String> = named.iter().collect();
    in_order.sort();
    for path in in_order {
        let target = to.join(path);
        if !target.exists() {
            match std::fs::copy(from.join(path), &target) {
                Ok(_) => {}
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                    return Ok(MediaCopy::Vanished(path.clone()))
                }
                Err(error) => return Err(error).with_context(|| format!("cannot copy {path}")),
            }
        }
    }
    let strays = media::find_strays(to, named)?;
    for path in strays.orphans.iter().chain(&strays.partial) {
        std::fs::remove_file(to.join(path))?;
    }
    Ok(MediaCopy::Complete(
        named.len() + usize::from(to.join(DEFAULT_CHAT_IMG).exists()),
    ))
}

/// Copies every finished file of the media folders.
fn copy_all(from: &Path, to: &Path) -> anyhow::Result<()> {
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
                match std::fs::copy(entry.path(), target.join(&name)) {
                    Ok(_) => {}
                    // Removed since it was listed: not needed then.
                    Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                    Err(error) => return Err(error.into()),
                }
            }
        }
    }
    Ok(())
}
