//! `chatd check`: is an instance's data sound? SQLite's integrity and
//! foreign-key checks, and that every image the database names exists.
//! Read-only, so it is safe while the server runs.

use std::path::Path;

/// Prints one `ok` or `FAIL` line per check; true when all is well.
pub fn check(data_dir: &Path) -> anyhow::Result<bool> {
    let conn = super::open_read_only(data_dir)?;
    let mut healthy = true;
    let integrity: Vec<String> = conn
        .prepare("PRAGMA integrity_check")?
        .query_map([], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
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
    let files = super::named_files(&conn)?;
    let missing: Vec<&String> = files
        .iter()
        .filter(|f| !data_dir.join("media").join(f).is_file())
        .collect();
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
    Ok(healthy)
}
