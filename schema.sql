-- chatd database schema, version 1.
--
-- Applied at every start; every statement is idempotent. `PRAGMA user_version`
-- records the version (see src/storage/mod.rs): a later change adds a
-- migration step there and updates this file to the newest shape.

CREATE TABLE IF NOT EXISTS users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT    NOT NULL,
    -- lower-cased username and e-mail: uniqueness is case-insensitive.
    username_key  TEXT    NOT NULL UNIQUE,
    email         TEXT    NOT NULL,
    email_key     TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    -- media path relative to the media folder, e.g. 'avatars/3f2a....png'.
    avatar        TEXT,
    -- Tokens carry the version they were issued under; changing the
    -- password bumps it, which invalidates every older token.
    token_version INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT    NOT NULL
);

CREATE TABLE IF NOT EXISTS chats (
    -- AUTOINCREMENT: an id (and so a chat URL) is never handed out twice.
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    room        TEXT    NOT NULL CHECK (room IN ('films', 'music', 'books', 'games')),
    title       TEXT    NOT NULL,
    description TEXT,
    -- media path of the chat's own image; NULL means the default image.
    img         TEXT,
    creator_id  INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  TEXT    NOT NULL,
    UNIQUE (room, title)
);

-- Listing a room: WHERE room = ? ORDER BY id.
CREATE INDEX IF NOT EXISTS chats_room_id ON chats (room, id);

CREATE TABLE IF NOT EXISTS messages (
    -- AUTOINCREMENT: ids only grow, so `?after=<id>` catch-up never skips.
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id    INTEGER NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    text       TEXT    NOT NULL,
    created_at TEXT    NOT NULL,
    edited_at  TEXT,
    is_deleted INTEGER NOT NULL DEFAULT 0 CHECK (is_deleted IN (0, 1))
);

-- A chat's history: WHERE chat_id = ? [AND id > ?] ORDER BY id.
CREATE INDEX IF NOT EXISTS messages_chat_id ON messages (chat_id, id);
-- Deleting a user cascades to their messages.
CREATE INDEX IF NOT EXISTS messages_user_id ON messages (user_id);
CREATE INDEX IF NOT EXISTS chats_creator_id ON chats (creator_id);
