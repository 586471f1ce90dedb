-- chatd database schema, version 3.
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
    created_at    TEXT    NOT NULL,
    -- moderation (v3): columns of users
    -- Staff may change anyone's chats and messages and use /api/admin/.
    is_staff          INTEGER NOT NULL DEFAULT 0 CHECK (is_staff IN (0, 1)),
    -- 0: suspended; their tokens and logins are refused.
    is_active         INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    suspension_reason TEXT
    -- end of moderation (v3): columns of users
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
    is_deleted INTEGER NOT NULL DEFAULT 0 CHECK (is_deleted IN (0, 1)),
    -- media path of an image posted with the message (version 2).
    image      TEXT
);

-- A chat's history: WHERE chat_id = ? [AND id > ?] ORDER BY id.
CREATE INDEX IF NOT EXISTS messages_chat_id ON messages (chat_id, id);
-- Deleting a user cascades to their messages.
CREATE INDEX IF NOT EXISTS messages_user_id ON messages (user_id);
CREATE INDEX IF NOT EXISTS chats_creator_id ON chats (creator_id);

-- Version 2: community features (src/storage/migrations/002_community.sql
-- brings a version 1 database here).

-- One row per user and emoji on a message; `id` orders them (first use of
-- an emoji, then who reacted in turn).
CREATE TABLE IF NOT EXISTS reactions (
    id         INTEGER PRIMARY KEY,
    message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    emoji      TEXT    NOT NULL,
    UNIQUE (message_id, emoji, user_id)
);
CREATE INDEX IF NOT EXISTS reactions_user_id ON reactions (user_id);

-- Users named as @username in a message's text, in order of appearance.
CREATE TABLE IF NOT EXISTS mentions (
    message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    UNIQUE (message_id, user_id)
);
-- The mentions feed: WHERE user_id = ? ORDER BY message_id DESC.
CREATE INDEX IF NOT EXISTS mentions_user_message ON mentions (user_id, message_id);

-- How far each user has read each chat (a message id; it never moves back).
CREATE TABLE IF NOT EXISTS read_markers (
    user_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    chat_id   INTEGER NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    last_read INTEGER NOT NULL,
    PRIMARY KEY (user_id, chat_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS read_markers_chat_id ON read_markers (chat_id);

-- Full-text search over message text and chat titles/descriptions. The
-- indexes hold no copy of the text (external content); the triggers keep
-- them in step inside the writing transaction, cascades included. A deleted
-- message's text is '', so it has no terms and never matches.
CREATE VIRTUAL TABLE IF NOT EXISTS messages_fts USING fts5 (
    text, content = 'messages', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2', prefix = '1 2 3'
);
CREATE TRIGGER IF NOT EXISTS messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER IF NOT EXISTS messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
CREATE TRIGGER IF NOT EXISTS messages_fts_update AFTER UPDATE OF text ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
    INSERT INTO messages_fts (rowid, text) VALUES (new.id, new.text);
END;

CREATE VIRTUAL TABLE IF NOT EXISTS chats_fts USING fts5 (
    title, description, content = 'chats', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2', prefix = '1 2 3'
);
CREATE TRIGGER IF NOT EXISTS chats_fts_insert AFTER INSERT ON chats BEGIN
    INSERT INTO chats_fts (rowid, title, description) VALUES (new.id, new.title, new.description);
END;
CREATE TRIGGER IF NOT EXISTS chats_fts_delete AFTER DELETE ON chats BEGIN
    INSERT INTO chats_fts (chats_fts, rowid, title, description)
    VALUES ('delete', old.id, old.title, old.description);
END;
CREATE TRIGGER IF NOT EXISTS chats_fts_update AFTER UPDATE OF title, description ON chats BEGIN
    INSERT INTO chats_fts (chats_fts, rowid, title, description)
    VALUES ('delete', old.id, old.title, old.description);
    INSERT INTO chats_fts (rowid, title, description) VALUES (new.id, new.title, new.description);
END;

-- moderation (v3)
-- Invite codes for `--registration invite`. Only a SHA-256 of each code is
-- kept: a code is 144 random bits, so a fast hash is enough and a leaked
-- database hands out no usable invite.
CREATE TABLE IF NOT EXISTS invites (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    code_hash  TEXT    NOT NULL UNIQUE,
    uses_left  INTEGER NOT NULL CHECK (uses_left >= 0),
    expires_at TEXT    NOT NULL,
    -- a username, or '(command line)': text, not a reference, so invites
    -- outlive the account that made them.
    created_by TEXT    NOT NULL,
    created_at TEXT    NOT NULL
);

-- What staff and operators did. Names are kept as text, not references:
-- the log outlives deleted users and demo resets.
CREATE TABLE IF NOT EXISTS audit_log (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    actor      TEXT    NOT NULL,
    action     TEXT    NOT NULL,
    target     TEXT    NOT NULL,
    detail     TEXT    NOT NULL DEFAULT '',
    created_at TEXT    NOT NULL
);
-- end of moderation (v3)
