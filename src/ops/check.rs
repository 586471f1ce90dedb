//! `chatd check`: is an instance's data sound? SQLite's integrity and
//! foreign-key checks, that every image the database names exists, and
//! which files no row names (the server removes those at its next start).
//! Read-only, so it is safe while the server runs.

use std::path::Path;

use crate::storage::media;

/// Prints one `ok`, `warn` or `FAIL` line per check; true when nothing
/// failed (stray files only warn: they are harmless, and an upload in
/// flight while the server runs looks like one).
pub fn check(data_dir: &Path) -> anyhow::Result<bool> {
    let conn = super::open_read_only(data_dir)?;
    let mut healthy = true;
    let integrity = conn
        .prepare("PRAGMA integrity_check")
        .and_then(|mut query| query.query_map([], |row| row.get(0))?.collect());
    let integrity: Vec<String> = match integrity {
        Ok(lines) => lines,
        Err(error) => {
            // Not even readable: nothing else can be checked.
            println!(
                "FAIL  integrity: {} is damaged ({error}); restore a backup",
                data_dir.join("chat.db").display()
            );
            return Ok(false);
        }
    };
    if integrity == ["ok"] {
        println!("ok    integrity");
    } else {
        healthy = false;
        println!("FAIL  integrity: {}", integrity.join("; "));
    }
    let broken: i64 =
        conn.query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |row| {
            row.get(0)
        })?;
    if broken == 0 {
        println!("ok    foreign keys");
    } else {
        healthy = false;
        println!("FAIL  foreign keys: {broken} rows point at missing rows");
    }
    let root = data_dir.join("media");
    let files = media::named_files(&conn)?;
    let mut missing: Vec<&String> = files.iter().filter(|f| !root.join(f).is_file()).collect();
    missing.sort();
    if missing.is_empty() {
        println!("ok    media ({} files)", files.len());
    } else {
        healthy = false;
        println!(
            "FAIL  media: {} missing, e.g. {}",
            missing.len(),
            missing[0]
        );
    }
    let strays = media::find_strays(&root, &files)?;
    if strays.is_empty() {
        println!("ok    no stray files");
    } else {
        let example = strays.orphans.first().or(strays.partial.first());
        println!(
            "warn  stray files: {} no row names, {} half-written, e.g. {} \
             (removed at the next start)",
            strays.orphans.len(),
            strays.partial.len(),
            example.map_or("", String::as_str)
        );
    }
    Ok(healthy)
}
