//! Demo data for testers and public demos: `--seed demo` fills an instance
//! with users, chats with drawn images in every room, and conversations, so
//! the web client looks alive on first start; `--reset-every` puts that
//! state back periodically.
//!
//! Seeding is idempotent: a user or chat that exists is left alone, and
//! messages are only written into chats this run created.

use std::sync::Arc;
use std::time::Duration;

use rusqlite::{params, Connection};

use crate::app::App;
use crate::rooms::Room;
use crate::storage::chats::{self, NewChat};
use crate::storage::media::ImageKind;
use crate::storage::{messages, users};

/// The demo users; each one's password is `demo-pass-<name>`.
pub const USERS: [&str; 4] = ["alice", "bob", "carol", "dave"];

/// The demo's staff user (password `demo-pass-<name>` too): it writes no
/// chats, it moderates.
pub const STAFF: &str = "moderator";

/// The password of a demo user.
pub fn password(user: &str) -> String {
    format!("demo-pass-{user}")
}

struct DemoChat {
    room: Room,
    title: &'static str,
    description: Option<&'static str>,
    lines: &'static [&'static str],
}

const CHATS: &[DemoChat] = &[
    DemoChat {
        room: Room::Films,
        title: "Harry Potter",
        description: Some("Discussion of characters"),
        lines: &[
            "Who is your favourite character?",
            "Luna Lovegood, easily.",
            "Snape. The whole series reads differently the second time.",
            "Hermione carried all seven films and I will not be taking questions.",
            "Fair. The third film is still the best-looking one.",
        ],
    },
    DemoChat {
        room: Room::Films,
        title: "The Lord of the Rings films",
        description: Some("Which film is the best in the series?"),
        lines: &[
            "The Two Towers, for Helm's Deep alone.",
            "Fellowship. It feels like a journey, the others feel like a war.",
            "Extended editions only, of course.",
            "I did the 11-hour marathon once. Never again. Maybe again.",
        ],
    },
    DemoChat {
        room: Room::Films,
        title: "Friends",
        description: None,
        lines: &[
            "Could this chat BE any more empty?",
            "PIVOT!",
            "We were on a break!",
        ],
    },
    DemoChat {
        room: Room::Music,
        title: "Imagine Dragons",
        description: Some("Chat description"),
        lines: &[
            "Night Visions still holds up.",
            "Believer is my gym playlist opener.",
            "Saw them live last summer, the drums were unreal.",
        ],
    },
    DemoChat {
        room: Room::Music,
        title: "Jazz for beginners",
        description: Some("Where to start, what to listen to next"),
        lines: &[
            "Kind of Blue, then A Love Supreme. That's the classic path.",
            "Try Kamasi Washington if you want something recent.",
            "Ella and Louis for a rainy Sunday.",
            "Thanks! Starting with Kind of Blue tonight.",
        ],
    },
    DemoChat {
        room: Room::Music,
        title: "Synthwave",
        description: Some("Neon, cassettes and long night drives"),
        lines: &[
            "The Midnight, always.",
            "Perturbator when I need to focus.",
            "FM-84 - Running in the Night. That's the post.",
        ],
    },
    DemoChat {
        room: Room::Books,
        title: "Dune",
        description: Some("Spice, sandworms and politics"),
        lines: &[
            "Finished Dune Messiah. Much darker than the first.",
            "That's the point: it's a warning about heroes.",
            "Children of Dune is where it gets really strange.",
            "I just reread the dinner party chapter. Perfect writing.",
        ],
    },
    DemoChat {
        room: Room::Books,
        title: "Murakami",
        description: Some("Cats, wells and jazz records"),
        lines: &[
            "Start with Norwegian Wood or Kafka on the Shore?",
            "Kafka on the Shore. Then the Wind-Up Bird.",
            "Hard-Boiled Wonderland is underrated.",
        ],
    },
    DemoChat {
        room: Room::Books,
        title: "Sci-fi classics",
        description: Some("Asimov, Le Guin, Lem and friends"),
        lines: &[
            "The Left Hand of Darkness changed how I read sci-fi.",
            "Solaris. Nothing else feels like it.",
            "Foundation for the ideas, not the characters.",
        ],
    },
    DemoChat {
        room: Room::Games,
        title: "Zelda: Tears of the Kingdom",
        description: Some("Builds, shrines and the depths"),
        lines: &[
            "I built a hover bike out of two fans and a steering stick.",
            "The depths scared me more than any boss.",
            "Still finding Koroks 150 hours in.",
        ],
    },
    DemoChat {
        room: Room::Games,
        title: "Chess openings",
        description: Some("From the Italian to the Caro-Kann"),
        lines: &[
            "Learning the London system, any tips?",
            "It's solid, but learn what to do when black goes ...c5 early.",
            "Caro-Kann player here, it's boring in the best way.",
            "1. e4 best by test.",
        ],
    },
    DemoChat {
        room: Room::Games,
        title: "Indie gems",
        description: Some("Small games, big feelings"),
        lines: &[
            "Outer Wilds. Go in blind.",
            "Hades, then Hades II.",
            "Celeste made me cry at a mountain. A pixel mountain.",
        ],
    },
];

/// What a seeding run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Seeded {
    pub users: usize,
    pub chats: usize,
    pub messages: usize,
}

/// Adds whatever demo data is missing. Blocking: run it off async threads.
pub fn seed(app: &App) -> anyhow::Result<Seeded> {
    let mut conn = crate::storage::connect(&app.config.db_path())?;
    let mut seeded = Seeded::default();

    let mut user_ids = Vec::new();
    for name in USERS {
        user_ids.push(demo_user(app, &conn, name, &mut seeded)?.id);
    }
    let staff = demo_user(app, &conn, STAFF, &mut seeded)?;
    users::set_staff(&conn, staff.id, true)?;

    let tx = conn.transaction()?;
    for (n, demo) in CHATS.iter().enumerate() {
        let taken: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM chats WHERE room = ?1 AND title = ?2)",
            params![demo.room.as_str(), demo.title],
            |row| row.get(0),
        )?;
        if taken {
            continue;
        }
        let image = crate::ops::png::picture(&format!("{}/{}", demo.room, demo.title), 160);
        let img = app.media.store("chat_img", ImageKind::Png, &image)?;
        let chat = chats::insert(
            &tx,
            &NewChat {
                room: demo.room,
                title: demo.title.to_string(),
                description: demo.description.map(str::to_string),
                img: Some(img),
                creator_id: user_ids[n % user_ids.len()],
            },
        )?;
        seeded.chats += 1;
        seeded.messages += write_conversation(&tx, chat.id, demo.lines, &user_ids, n)?;
    }
    tx.commit()?;
    // Written on a connection of its own: cached pages must read again.
    app.db.versions().changed_all();
    Ok(seeded)
}

/// The demo user `name`, created if missing.
fn demo_user(
    app: &App,
    conn: &Connection,
    name: &str,
    seeded: &mut Seeded,
) -> anyhow::Result<users::User> {
    if let Some(user) = users::find_by_login(conn, name)? {
        return Ok(user);
    }
    let hash = app.hasher.hash_blocking(&password(name))?;
    seeded.users += 1;
    match users::insert(conn, name, &format!("{name}@example.com"), &hash) {
        Ok(user) => Ok(user),
        Err(users::InsertError::Db(error)) => Err(error.into()),
        Err(users::InsertError::Taken(errors)) => anyhow::bail!("demo user {name}: {errors:?}"),
    }
}

/// Writes a conversation with timestamps spread over the last hours.
fn write_conversation(
    conn: &Connection,
    chat_id: i64,
    lines: &[&str],
    user_ids: &[i64],
    offset: usize,
) -> anyhow::Result<usize> {
    let now = chrono::Utc::now();
    for (i, line) in lines.iter().enumerate() {
        let minutes_ago = ((lines.len() - i) * 17 + offset * 5) as i64;
        let at = crate::storage::timestamp(now - chrono::Duration::minutes(minutes_ago));
        let author = user_ids[(offset + i) % user_ids.len()];
        let mentions = crate::domain::community::mention_candidates(line);
        messages::insert(conn, chat_id, author, line, None, &at, &mentions)?;
    }
    Ok(lines.len())
}

/// Puts the seeded state back: every socket is told `chat_deleted` and
/// closed with 4404 (clients reconnect), all chats, messages, non-demo users
/// and uploads go, suspensions and staff flags of the demo users are undone,
/// and the demo data is written again. Chat ids restart, so the demo chats
/// come back under the same URLs. The audit log stays: it is how an
/// operator sees what happened on a public demo.
pub fn reset(app: &App) -> anyhow::Result<Seeded> {
    let mut conn = crate::storage::connect(&app.config.db_path())?;
    let chat_ids: Vec<i64> = conn
        .prepare("SELECT id FROM chats")?
        .query_map([], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for id in chat_ids {
        app.live.publish(id, crate::live::Event::ChatDeleted);
    }
    let files = crate::storage::media::named_files(&conn)?;
    let tx = conn.transaction()?;
    tx.execute_batch(
        "DELETE FROM messages;
         DELETE FROM chats;
         DELETE FROM sqlite_sequence WHERE name IN ('chats', 'messages');",
    )?;
    let placeholders = USERS.map(|u| format!("'{u}'")).join(", ");
    tx.execute(
        &format!("DELETE FROM users WHERE username_key NOT IN ({placeholders}, '{STAFF}')"),
        [],
    )?;
    // Back to the seeded standing; a suspension's end also ends the
    // sessions the demo users had (the token version moves).
    tx.execute(
        "UPDATE users SET avatar = NULL, is_staff = 0,
                          token_version = token_version + (1 - is_active),
                          is_active = 1, suspension_reason = NULL",
        [],
    )?;
    tx.commit()?;
    app.db.versions().changed_all();
    for file in files {
        app.media.remove(&file);
    }
    seed(app)
}

/// Runs [`reset`] every `interval` until the task is dropped.
pub async fn reset_periodically(app: Arc<App>, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        let app = app.clone();
        match tokio::task::spawn_blocking(move || reset(&app)).await {
            Ok(Ok(seeded)) => tracing::info!(?seeded, "demo data reset"),
            Ok(Err(error)) => tracing::error!(error = format!("{error:#}"), "demo reset failed"),
            Err(error) => tracing::error!(%error, "demo reset panicked"),
        }
    }
}

/// The credentials to print after seeding.
pub fn credentials_text() -> String {
    let list: Vec<String> = USERS
        .iter()
        .map(|u| format!("{u} / {}", password(u)))
        .collect();
    format!(
        "demo users (username / password): {}; staff: {STAFF} / {}",
        list.join(", "),
        password(STAFF)
    )
}
