//! `chatd check`: is an instance's data sound? SQLite's integrity and
//! foreign-key checks, the full-text indexes against the rows they index,
//! that every image the database names exists, and which files no row
//! names (the server removes those at its next start).
//! Read-only, so it is safe while the server runs.

use std::path::Path;

use crate::ops::out::outln;
use crate::storage::{media, search_index};

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
            outln!(
                "FAIL  integrity: {} is damaged ({error}); restore a backup",
                data_dir.join("chat.db").display()
            );
            return Ok(false);
        }
    };
    if integrity == ["ok"] {
        outln!("ok    integrity");
    } else {
        healthy = false;
        outln!("FAIL  integrity: {}", integrity.join("; "));
    }
    let broken: i64 =
        conn.query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |row| {
            row.get(0)
        })?;
    if broken == 0 {
        outln!("ok    foreign keys");
    } else {
        healthy = false;
        outln!("FAIL  foreign keys: {broken} rows point at missing rows");
    }
    // Messages above the mark wait for the running server's writer (or the
    // next start) to index them; they are not a fault.
    let progress = search_index::progress(&conn)?;
    if progress.behind() > 0 {
        outln!(
            "note  search index: messages above id {} are indexed by the server shortly",
            progress.indexed_upto
        );
    }
    for (index, table, upto) in [
        ("messages_fts", "messages", progress.indexed_upto),
        ("chats_fts", "chats", i64::MAX),
    ] {
        match search_index_problems(&conn, index, table, upto)? {
            None => outln!("ok    search index {index}"),
            Some(problems) => {
                healthy = false;
                outln!("FAIL  search index {index}: {problems}");
            }
        }
    }
    let root = data_dir.join("media");
    let files = media::named_files(&conn)?;
    let mut missing: Vec<&String> = files.iter().filter(|f| !root.join(f).is_file()).collect();
    missing.sort();
    if missing.is_empty() {
        outln!("ok    media ({} files)", files.len());
    } else {
        healthy = false;
        outln!(
            "FAIL  media: {} missing, e.g. {}",
            missing.len(),
            missing[0]
        );
    }
    let strays = media::find_strays(&root, &files)?;
    if strays.is_empty() {
        outln!("ok    no stray files");
    } else {
        let example = strays.orphans.first().or(strays.partial.first());
        outln!(
            "warn  stray files: {} no row names, {} half-written, e.g. {} \
             (removed at the next start)",
            strays.orphans.len(),
            strays.partial.len(),
            example.map_or("", String::as_str)
        );
    }
    Ok(healthy)
}

/// What is wrong with a full-text index, read-only: FTS5's own structure
/// check, then whether it indexes exactly the rows of its table (its
/// `_docsize` shadow table has one row per indexed row). FTS5's
/// `'integrity-check'` command would need a writable connection, and so
/// the write lock of a running server.
fn search_index_problems(
    conn: &rusqlite::Connection,
    index: &str,
    table: &str,
    indexed_upto: i64,
) -> rusqlite::Result<Option<String>> {
    let mut problems: Vec<String> = conn
        .prepare(&format!("PRAGMA integrity_check({index})"))?
        .query_map([], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    problems.retain(|p| p != "ok");
    let count = |sql: String| conn.query_row(&sql, [], |row| row.get::<_, i64>(0));
    let ghosts = count(format!(
        "SELECT COUNT(*) FROM {index}_docsize d WHERE NOT EXISTS \
         (SELECT 1 FROM {table} t WHERE t.id = d.id)"
    ))?;
    if ghosts > 0 {
        problems.push(format!("{ghosts} indexed rows are not in {table}"));
    }
    let unindexed = count(format!(
        "SELECT COUNT(*) FROM {table} t WHERE t.id <= {indexed_upto} AND NOT EXISTS \
         (SELECT 1 FROM {index}_docsize d WHERE d.id = t.id)"
    ))?;
    if unindexed > 0 {
        problems.push(format!("{unindexed} rows of {table} are not indexed"));
    }
    Ok((!problems.is_empty()).then(|| problems.join("; ")))
}
