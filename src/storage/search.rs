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
//! Reading the term list counts every term's postings (it is how
//! `fts5vocab` works), so a word cut short of a common one ("brif" of
//! "brifelma") would still cost that term's postings. Each connection
//! remembers the common terms the list showed it (in a temporary table)
//! and next time reads the list around them: a stale memory only costs
//! time, never a match.
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

/// Messages a term is in for the term list to step over it next time
/// (reading it costs about 17 ns a message: 0.2 ms at this count).
pub const COMMON: i64 = 10_000;

/// The per-connection helpers: the index's term list, and a one-row table
/// (same tokenizer as `messages_fts`) whose terms are the query's words
/// folded. Temporary: nothing of them is stored or migrated.
const HELPERS: &str = "
    CREATE VIRTUAL TABLE IF NOT EXISTS temp.messages_fts_terms
        USING fts5vocab(main, messages_fts, row);
    CREATE VIRTUAL TABLE IF NOT EXISTS temp.search_words
        USING fts5(word, tokenize = 'unicode61 remove_diacritics 2');
    CREATE VIRTUAL TABLE IF NOT EXISTS temp.search_words_terms
        USING fts5vocab(temp, search_words, instance);
    CREATE TABLE IF NOT EXISTS temp.search_common_terms (term TEXT PRIMARY KEY) WITHOUT ROWID;";

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
    let end = format!("{term}\u{10FFFF}");
    let common: Vec<String> = conn
        .prepare_cached(
            "SELECT term FROM temp.search_common_terms WHERE term > ?1 AND term < ?2
             ORDER BY term",
        )?
        .query_map(params![term, end], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    // The term list is read around the common terms known so far, which
    // are taken as they are (one that is gone matches nothing).
    let mut longer = Vec::new();
    let mut from = format!("{term}\u{1}");
    for known in &common {
        if !scan(conn, &from, &just_below(known), &mut longer)? {
            return Ok(prefix(term));
        }
        from = format!("{known}\u{1}");
    }
    if !scan(conn, &from, &end, &mut longer)? {
        return Ok(prefix(term));
    }
    longer.extend(common);
    if longer.len() > MAX_EXPANSION {
        return Ok(prefix(term));
    }
    let mut any = vec![exact(term)];
    any.extend(longer.iter().map(|t| exact(t)));
    Ok(format!("({})", any.join(" OR ")))
}

/// Adds the index's terms from `from` to `to` (both included) to `terms`,
/// and remembers the common ones; false once there are more than
/// [`MAX_EXPANSION`].
fn scan(
    conn: &Connection,
    from: &str,
    to: &str,
    terms: &mut Vec<String>,
) -> rusqlite::Result<bool> {
    let mut list = conn.prepare_cached(
        "SELECT term, doc FROM temp.messages_fts_terms WHERE term >= ?1 AND term <= ?2",
    )?;
    let mut rows = list.query(params![from, to])?;
    while let Some(row) = rows.next()? {
        let term: String = row.get(0)?;
        if row.get::<_, i64>(1)? >= COMMON {
            conn.prepare_cached(
                "INSERT OR IGNORE INTO temp.search_common_terms (term) VALUES (?1)",
            )?
            .execute([&term])?;
        }
        terms.push(term);
        if terms.len() > MAX_EXPANSION {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The greatest string below `term` that any term of the index can be
/// under: `term` with its last character one less and U+10FFFF (never
/// part of a term) after it. `fts5vocab` counts the postings of the last
/// term it reads, even one past a `<` bound, so the bound must fall short.
fn just_below(term: &str) -> String {
    let mut chars = term.chars();
    let last = chars.next_back().map_or(0, u32::from);
    let before = (0..last).rev().find_map(char::from_u32).unwrap_or('\0');
    format!("{}{before}\u{10FFFF}", chars.as_str())
}

/// How well `text` matches the query's `words`: how many of its words
/// start with one of them, per character (plus 20, so a one-word message
/// does not always win), both folded by [`fold`]. Computed here from the
/// text the search reads anyway: FTS5's `highlight()` (what this replaced)
/// re-reads and re-tokenizes each row, 8 µs a row. Only the order of the
/// matches depends on it; which messages match is FTS5's answer.
pub fn score(text: &str, words: &[String]) -> f64 {
    // Only as much of each word is folded as the longest query word needs.
    let enough = words.iter().map(String::len).max().unwrap_or(0);
    let mut folded = String::new();
    let matched = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .filter(|word| {
            folded.clear();
            fold_into(word, enough, &mut folded);
            words
                .iter()
                .any(|prefix| folded.starts_with(prefix.as_str()))
        })
        .count();
    matched as f64 / (text.chars().count() + 20) as f64
}

/// `word` lower-cased with its accents dropped (decomposed, combining
/// marks removed), as `unicode61 remove_diacritics 2` folds Latin text.
pub fn fold(word: &str) -> String {
    let mut folded = String::with_capacity(word.len());
    fold_into(word, usize::MAX, &mut folded);
    folded
}

/// [`fold`] into `out`, stopping once it holds `enough` bytes.
fn fold_into(word: &str, enough: usize, out: &mut String) {
    use unicode_normalization::char::{decompose_canonical, is_combining_mark};
    for c in word.chars() {
        if out.len() >= enough {
            break;
        }
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else {
            decompose_canonical(c, |part| {
                if !is_combining_mark(part) {
                    out.extend(part.to_lowercase());
                }
            });
        }
    }
}

/// A string token (quotes doubled), so nothing of it is read as syntax.
fn exact(term: &str) -> String {
    format!("\"{}\"", term.replace('"', "\"\""))
}

/// A prefix token: `exact` with `*`.
pub fn prefix(term: &str) -> String {
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
    fn common_terms_are_stepped_over_and_still_found() {
        let mut texts = vec!["brifa", "brifelm", "brifelmas", "brifz", "brif"];
        texts.extend(std::iter::repeat_n("brifelma", COMMON as usize));
        let (_dir, conn) = index(&texts);
        let all = r#"("brif" OR "brifa" OR "brifelm" OR "brifelma" OR "brifelmas" OR "brifz")"#;
        assert_eq!(expression(&conn, &["brif"]), all);
        let common: Vec<String> = conn
            .prepare("SELECT term FROM temp.search_common_terms")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(common, ["brifelma"]);
        // Read around it now, and taken as it is.
        let around = r#"("brif" OR "brifa" OR "brifelm" OR "brifelmas" OR "brifz" OR "brifelma")"#;
        assert_eq!(expression(&conn, &["brif"]), around);
        assert_eq!(
            expression(&conn, &["brifelm"]),
            r#"("brifelm" OR "brifelmas" OR "brifelma")"#
        );
        assert_eq!(just_below("brifelma"), "brifelm`\u{10FFFF}");
        assert_eq!(just_below("a\u{E000}"), "a\u{D7FF}\u{10FFFF}");
    }

    #[test]
    fn a_word_the_tokenizer_splits_is_searched_as_typed() {
        // Vowel signs are letters to Rust but separators to unicode61.
        let (_dir, conn) = index(&["हिंदी भाषा", "other"]);
        let words = vec!["हिंदी".to_string(), "भाषा".to_string()];
        let query = match_expression(&conn, &words).unwrap().unwrap();
        let found: Vec<i64> = conn
            .prepare("SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?1")
            .unwrap()
            .query_map([&query], |row| row.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(found, [1], "{query}");
        assert!(query.starts_with("\"हिंदी\"* AND "), "{query}");
    }

    #[test]
    fn score_counts_matching_words_per_character() {
        let words = vec![fold("CRÈME"), fold("br")];
        assert_eq!(fold("Brûlée"), "brulee");
        assert_eq!(fold("ÇA"), "ca");
        assert_eq!(fold("e\u{301}te\u{301}"), "ete");
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
