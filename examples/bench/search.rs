//! The `search` phase of `loadgen`: a data set of its own (1,000,000
//! messages by default, written straight into a fresh data directory with
//! rusqlite in large transactions, the search index kept by chatd's own
//! schema triggers), then `GET /api/search/?q=` against the real server.
//!
//! Message texts are 6 to 20 words drawn from a 20,000-word vocabulary by
//! a Zipf law (word `r` about 1/r as frequent), some with accents, so
//! common words match a large share of the messages, as in real chat.
//! Queries: one to three words by the same law, half of them cut to a
//! prefix of at least three characters, a quarter limited to one room.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::params;

use super::common;
use super::http_load::{http_load, MakeRequest};
use super::report::Report;

/// Words of the vocabulary.
const VOCABULARY: usize = 20_000;
/// Users and chats the messages are spread over.
const USERS: i64 = 1_000;
const CHATS: i64 = 1_000;
/// Messages per transaction while building the data set.
const BATCH: usize = 50_000;
/// Distinct queries the load cycles through.
const QUERIES: usize = 2_000;

/// A small deterministic generator (the data set is the same every run).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // SplitMix64.
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The vocabulary (made-up words of two to four syllables, one in eight
/// with an accent) and the cumulative Zipf weights to draw from it.
#[derive(Clone)]
struct Words {
    words: Vec<String>,
    cumulative: Vec<f64>,
}

impl Words {
    fn new(rng: &mut Rng) -> Words {
        const SYLLABLES: [&str; 24] = [
            "ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "de", "ba", "po", "li", "ma", "ten",
            "dor", "gra", "shi", "qu", "fel", "bri", "zo", "han", "col", "mer",
        ];
        const ACCENTED: [&str; 6] = ["é", "è", "ü", "ñ", "ô", "ç"];
        let mut words = Vec::with_capacity(VOCABULARY);
        let mut seen = std::collections::HashSet::new();
        while words.len() < VOCABULARY {
            let syllables = 2 + rng.below(3);
            let mut word: String = (0..syllables)
                .map(|_| SYLLABLES[rng.below(SYLLABLES.len() as u64) as usize])
                .collect();
            if rng.below(8) == 0 {
                word.push_str(ACCENTED[rng.below(ACCENTED.len() as u64) as usize]);
            }
            if seen.insert(word.clone()) {
                words.push(word);
            }
        }
        let mut total = 0.0;
        let cumulative = (1..=VOCABULARY)
            .map(|rank| {
                total += 1.0 / rank as f64;
                total
            })
            .collect();
        Words { words, cumulative }
    }

    fn draw(&self, rng: &mut Rng) -> &str {
        let target = rng.unit() * self.cumulative[VOCABULARY - 1];
        let index = self.cumulative.partition_point(|&c| c < target);
        &self.words[index.min(VOCABULARY - 1)]
    }
}

/// Writes users, chats and `messages` messages into a new chatd database
/// in `data_dir`; returns how long it took.
fn build(data_dir: &Path, messages: u64, words: &Words, rng: &mut Rng) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let db_path = data_dir.join("chat.db");
    // chatd's own schema (version, indexes, search index and its triggers).
    chatd::storage::Db::open(&db_path)?;
    let mut conn = rusqlite::Connection::open(&db_path)?;
    // A throwaway data set: no fsync per transaction.
    conn.execute_batch("PRAGMA synchronous = OFF;")?;
    let at = "2026-01-01T00:00:00.000000Z";
    let tx = conn.transaction()?;
    for user in 1..=USERS {
        tx.execute(
            "INSERT INTO users (username, username_key, email, email_key, password_hash, created_at)
             VALUES (?1, ?1, ?2, ?2, '-', ?3)",
            params![format!("user{user}"), format!("user{user}@example.com"), at],
        )?;
    }
    let rooms = ["films", "music", "books", "games"];
    for chat in 1..=CHATS {
        tx.execute(
            "INSERT INTO chats (room, title, creator_id, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![
                rooms[(chat % 4) as usize],
                format!("chat {chat}"),
                1 + chat % USERS,
                at
            ],
        )?;
    }
    tx.commit()?;
    let mut written = 0u64;
    while written < messages {
        let tx = conn.transaction()?;
        {
            let mut insert = tx.prepare(
                "INSERT INTO messages (chat_id, user_id, text, created_at) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for _ in 0..BATCH.min((messages - written) as usize) {
                let length = 6 + rng.below(15);
                let text: Vec<&str> = (0..length).map(|_| words.draw(rng)).collect();
                let chat = 1 + rng.below(CHATS as u64) as i64;
                let user = 1 + rng.below(USERS as u64) as i64;
                insert.execute(params![chat, user, text.join(" "), at])?;
                written += 1;
            }
        }
        // Indexed as chatd's writer does it: new messages in one statement,
        // then the mark moved (src/storage/search_index.rs).
        tx.execute_batch(
            "INSERT INTO messages_fts (rowid, text)
             SELECT id, text FROM messages
             WHERE id > (SELECT indexed_upto FROM search_progress);
             UPDATE search_progress SET indexed_upto = (SELECT MAX(id) FROM messages);",
        )?;
        tx.commit()?;
    }
    // Merge the index segments, as a long-running server's would be.
    conn.execute(
        "INSERT INTO messages_fts (messages_fts) VALUES ('optimize')",
        [],
    )?;
    Ok(started.elapsed())
}

/// The query strings (URL-encoded paths) the load cycles through.
fn queries(words: &Words, rng: &mut Rng) -> Vec<String> {
    (0..QUERIES)
        .map(|_| {
            let count = 1 + rng.below(3);
            let q: Vec<String> = (0..count)
                .map(|_| {
                    let word = words.draw(rng);
                    if rng.below(2) == 0 {
                        let keep = 3 + rng.below(3) as usize;
                        word.chars().take(keep).collect()
                    } else {
                        word.to_string()
                    }
                })
                .collect();
            let mut pairs = vec![("q", q.join(" "))];
            if rng.below(4) == 0 {
                pairs.push(("room", "books".to_string()));
            }
            format!(
                "/api/search/?{}",
                serde_urlencoded::to_string(&pairs).expect("encodable")
            )
        })
        .collect()
}

/// Builds the data set (or, with `keep`, reuses the one built there
/// before), starts chatd on it, and measures search.
#[allow(clippy::too_many_arguments)]
pub async fn search_phase(
    bin: &Path,
    tmp: Option<&Path>,
    keep: Option<&Path>,
    messages: u64,
    connections: usize,
    warmup: f64,
    seconds: f64,
    report: &mut Report,
) -> anyhow::Result<()> {
    let temporary = match keep {
        Some(_) => None,
        None => Some(common::data_dir(tmp)?),
    };
    let data_dir = match (keep, &temporary) {
        (Some(keep), _) => keep.to_path_buf(),
        (None, Some(dir)) => dir.path().to_path_buf(),
        (None, None) => unreachable!("a temporary directory without --search-data"),
    };
    let words = Words::new(&mut Rng(42));
    let marker = data_dir.join(format!("search-{messages}.built"));
    if marker.exists() {
        println!("search: reusing the data set in {}", data_dir.display());
    } else {
        std::fs::create_dir_all(&data_dir)?;
        let (dir, vocabulary) = (data_dir.clone(), words.clone());
        let built =
            tokio::task::spawn_blocking(move || build(&dir, messages, &vocabulary, &mut Rng(1)))
                .await??;
        std::fs::write(&marker, b"")?;
        let size = std::fs::metadata(data_dir.join("chat.db"))?.len();
        println!(
            "search: built {messages} messages in {:.1}s ({:.0} MiB database)",
            built.as_secs_f64(),
            size as f64 / (1024.0 * 1024.0)
        );
    }
    let process = common::spawn_chatd(bin, &data_dir, common::CHATD_BENCH_ENV)?;
    let addr = process.addr;
    common::wait_healthy(addr, Duration::from_secs(60)).await?;
    let requests: Vec<Vec<u8>> = queries(&words, &mut Rng(7))
        .iter()
        .map(|path| common::request_bytes("GET", path, addr, None, None))
        .collect();
    let requests = Arc::new(requests);
    let make: MakeRequest = Arc::new(move |task, n| {
        let i = (task as u64 * 7919 + n) as usize % requests.len();
        requests[i].clone()
    });
    let outcome = http_load(addr, make, connections, warmup, seconds).await?;
    println!(
        "GET /api/search/ ({connections} connections): {:.0} req/s p50 {:.2} ms p99 {:.2} ms, {} errors",
        outcome.rps, outcome.p50, outcome.p99, outcome.errors
    );
    let test = format!("search {messages} messages");
    report.figure("search_rps", &test, "req/s", outcome.rps, None);
    report.figure("search_p50_ms", &test, "p50 ms", outcome.p50, None);
    report.figure("search_p99_ms", &test, "p99 ms", outcome.p99, None);
    report.check(
        "search: p99 < 50 ms over 1,000,000 messages",
        Some(outcome.p99 < 50.0 && outcome.errors == 0 && messages >= 1_000_000),
        format!("p99 {:.2} ms, {} errors", outcome.p99, outcome.errors),
    );
    drop(process);
    Ok(())
}
