//! How a message search's words become an FTS5 query the index answers
//! without reading whole posting lists.
//!
//! Every word is a prefix. FTS5 answers a prefix longer than its prefix
//! indexes (`prefix = '1 2 3'`) by merging the postings of every term it
//! covers into one list before the first row comes out, so one common word
//! costs its whole posting list (700,000 rows, tens of milliseconds, in a
//! million messages) however few rows the search wants. An `OR` of exact
//! terms is read lazily instead, newest row first, and stops at the
//! search's `LIMIT`. So each word longer than the prefix indexes becomes
//! itself plus the longer terms of the index that start with it, read from
//! an `fts5vocab` table; the word itself is not read from the term list (its
//! own postings would be counted there, which is what this avoids).
//!
//! The word is folded (case, accents) by SQLite's own tokenizer, on a
//! one-row FTS5 table of the connection's temporary schema, so the terms it
//! is compared with are folded exactly as the index folded them.

use rusqlite::{params, Connection};

/// Longest prefix the index has a prefix index for (`prefix = '1 2 3'` in
/// schema.sql): shorter words are answered from it, ready-made.
const PREFIX_INDEXED: usize = 3;

/// Most longer terms one word is expanded into. Past this the word stays a
/// prefix query: an `OR` of very many terms costs more per row than the
/// merged list does.
pub const MAX_EXPANSION: usize = 64;

/// The per-connection helpers: the index's term list, and a one-row table
/// (same tokenizer as `messages_fts`) whose terms are the query's words
/// folded. Temporary: nothing of them is stored or migrated.
const HELPERS: &str = "
    CREATE VIRTUAL TABLE IF NOT EXISTS temp.messages_fts_terms
        USING fts5vocab(main, messages_fts, row);
    CREATE VIRTUAL TABLE IF NOT EXISTS temp.search_words
        USING fts5(word, tokenize = 'unicode61 remove_diacritics 2');
    CREATE VIRTUAL TABLE IF NOT EXISTS temp.search_words_terms
        USING fts5vocab(temp, search_words, instance);";

/// The FTS5 query matching messages that contain every one of `words`
/// (runs of letters and digits), each as a prefix; `None` when there are
/// none. Reads the term list, so run it in the same transaction as the
/// query it builds.
pub fn match_expression(conn: &Connection, words: &[String]) -> rusqlite::Result<Option<String>> {
    if words.is_empty() {
        return Ok(None);
    }
    conn.execute_batch(HELPERS)?;
    let folded = tokenize(conn, words)?;
    let mut parts = Vec::with_capacity(words.len());
    for (word, tokens) in words.iter().zip(folded) {
        parts.push(match tokens.as_slice() {
            [term] if term.chars().count() > PREFIX_INDEXED => expand(conn, term)?,
            [term] => prefix(term),
            // Folds into no term or several (a phrase): FTS5 reads it as
            // the user typed it, quoted, as before.
            _ => prefix(word),
        });
    }
    Ok(Some(parts.join(" AND ")))
}

/// Each word's terms as `messages_fts`'s tokenizer makes them.
fn tokenize(conn: &Connection, words: &[String]) -> rusqlite::Result<Vec<Vec<String>>> {
    conn.execute("DELETE FROM temp.search_words", [])?;
    let mut insert =
        conn.prepare_cached("INSERT INTO temp.search_words (rowid, word) VALUES (?1, ?2)")?;
    for (i, word) in words.iter().enumerate() {
        insert.execute(params![i as i64, word])?;
    }
    let mut folded = vec![Vec::new(); words.len()];
    let mut terms =
        conn.prepare_cached("SELECT doc, term FROM temp.search_words_terms ORDER BY doc, offset")?;
    let mut rows = terms.query([])?;
    while let Some(row) = rows.next()? {
        let doc: i64 = row.get(0)?;
        if let Some(tokens) = folded.get_mut(doc as usize) {
            tokens.push(row.get(1)?);
        }
    }
    conn.execute("DELETE FROM temp.search_words", [])?;
    Ok(folded)
}

/// `term` and every longer term of the index that starts with it, as an
/// `OR` of exact terms; a prefix query when there are more than
/// [`MAX_EXPANSION`].
fn expand(conn: &Connection, term: &str) -> rusqlite::Result<String> {
    // Every longer term is `term` plus at least one more byte, the least of
    // which is 0x01 in text; U+10FFFF is more than any character after it.
    let longer: Vec<String> = conn
        .prepare_cached(&format!(
            "SELECT term FROM temp.messages_fts_terms WHERE term >= ?1 AND term < ?2
             LIMIT {}",
            MAX_EXPANSION + 1
        ))?
        .query_map(
            params![format!("{term}\u{1}"), format!("{term}\u{10FFFF}")],
            |row| row.get(0),
        )?
        .collect::<rusqlite::Result<_>>()?;
    if longer.len() > MAX_EXPANSION {
        return Ok(prefix(term));
    }
    let mut any = vec![exact(term)];
    any.extend(longer.iter().map(|t| exact(t)));
    Ok(format!("({})", any.join(" OR ")))
}

/// How well `text` matches the query's `words`: how many of its words
/// start with one of them, per character (plus 20, so a one-word message
/// does not always win), both folded by [`fold`]. Computed here from the
/// text the search reads anyway: FTS5's `highlight()` (what this replaced)
/// re-reads and re-tokenizes each row, 8 µs a row. Only the order of the
/// matches depends on it; which messages match is FTS5's answer.
pub fn score(text: &str, words: &[String]) -> f64 {
    let matched = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .filter(|word| {
            let word = fold(word);
            words.iter().any(|prefix| word.starts_with(prefix.as_str()))
        })
        .count();
    matched as f64 / (text.chars().count() + 20) as f64
}

/// `word` lower-cased with its accents dropped (decomposed, combining
/// marks removed), as `unicode61 remove_diacritics 2` folds Latin text.
pub fn fold(word: &str) -> String {
    use unicode_normalization::char::is_combining_mark;
    use unicode_normalization::UnicodeNormalization;
    word.nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// A string token (quotes doubled), so nothing of it is read as syntax.
fn exact(term: &str) -> String {
    format!("\"{}\"", term.replace('"', "\"\""))
}

fn prefix(term: &str) -> String {
    format!("{}*", exact(term))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(texts: &[&str]) -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chat.db");
        crate::storage::Db::open(&path).unwrap();
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, text TEXT);
             DROP TABLE messages_fts;
             CREATE VIRTUAL TABLE messages_fts USING fts5 (
                 text, content = 't', content_rowid = 'id',
                 tokenize = 'unicode61 remove_diacritics 2', prefix = '1 2 3');",
        )
        .unwrap();
        for text in texts {
            conn.execute("INSERT INTO messages_fts (text) VALUES (?1)", [text])
                .unwrap();
        }
        (dir, conn)
    }

    fn expression(conn: &Connection, words: &[&str]) -> String {
        let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        match_expression(conn, &words).unwrap().unwrap()
    }

    #[test]
    fn long_words_become_their_terms_and_short_ones_prefixes() {
        let (_dir, conn) = index(&["Crème brûlée", "cremeux cremerie", "CRÉ cr", "other"]);
        assert_eq!(
            expression(&conn, &["CRÈME", "cr", "Brul"]),
            r#"("creme" OR "cremerie" OR "cremeux") AND "cr"* AND ("brul" OR "brulee")"#
        );
        // A word no term starts with is still searched (and matches nothing).
        assert_eq!(expression(&conn, &["zzzz"]), r#"("zzzz")"#);
        assert_eq!(match_expression(&conn, &[]).unwrap(), None);
    }

    #[test]
    fn score_counts_matching_words_per_character() {
        let words = vec![fold("CRÈME"), fold("br")];
        assert_eq!(fold("Brûlée"), "brulee");
        assert_eq!(score("Crème brûlée, cremeux", &words), 3.0 / 41.0);
        assert_eq!(score("nothing", &words), 0.0);
        assert!(
            score("dune dune dune", &[fold("dune")]) > score("dune filler filler", &[fold("dune")])
        );
    }

    #[test]
    fn a_word_covering_too_many_terms_stays_a_prefix() {
        let texts: Vec<String> = (0..=MAX_EXPANSION).map(|i| format!("wordy{i}")).collect();
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        let (_dir, conn) = index(&texts);
        assert_eq!(expression(&conn, &["Wordy"]), r#""wordy"*"#);
        assert!(expression(&conn, &["wordy1"]).starts_with(r#"("wordy1" OR "wordy10""#));
    }
}
