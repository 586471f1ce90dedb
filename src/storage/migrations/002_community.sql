-- Migration to schema version 2: community features (message images,
-- reactions, mentions, read markers, full-text search). A frozen step: it
-- brings a version 1 database to version 2 exactly, whatever later versions
-- of schema.sql say.

ALTER TABLE messages ADD COLUMN image TEXT;
-- One row per user and emoji on a message; `id` orders them (first use of
-- an emoji, then who reacted in turn).
CREATE TABLE reactions (
    id         INTEGER PRIMARY KEY,
    message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    emoji      TEXT    NOT NULL,
    UNIQUE (message_id, emoji, user_id)
);
CREATE INDEX reactions_user_id ON reactions (user_id);

-- Users named as @username in a message's text, in order of appearance.
CREATE TABLE mentions (
    message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    UNIQUE (message_id, user_id)
);
-- The mentions feed: WHERE user_id = ? ORDER BY message_id DESC.
CREATE INDEX mentions_user_message ON mentions (user_id, message_id);

-- How far each user has read each chat (a message id; it never moves back).
CREATE TABLE read_markers (
    user_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    chat_id   INTEGER NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    last_read INTEGER NOT NULL,
    PRIMARY KEY (user_id, chat_id)
) WITHOUT ROWID;
CREATE INDEX read_markers_chat_id ON read_markers (chat_id);

-- Full-text search over message text and chat titles/descriptions. The
-- indexes hold no copy of the text (external content); the triggers keep
-- them in step inside the writing transaction, cascades included. A deleted
-- message's text is '', so it has no terms and never matches.
CREATE VIRTUAL TABLE messages_fts USING fts5 (
    text, content = 'messages', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2', prefix = '1 2 3'
);
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
    INSERT INTO messages_fts (rowid, text) VALUES (new.id, new.text);
END;

CREATE VIRTUAL TABLE chats_fts USING fts5 (
    title, description, content = 'chats', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2', prefix = '1 2 3'
);
CREATE TRIGGER chats_fts_insert AFTER INSERT ON chats BEGIN
    INSERT INTO chats_fts (rowid, title, description) VALUES (new.id, new.title, new.description);
END;
CREATE TRIGGER chats_fts_delete AFTER DELETE ON chats BEGIN
    INSERT INTO chats_fts (chats_fts, rowid, title, description)
    VALUES ('delete', old.id, old.title, old.description);
END;
CREATE TRIGGER chats_fts_update AFTER UPDATE OF title, description ON chats BEGIN
    INSERT INTO chats_fts (chats_fts, rowid, title, description)
    VALUES ('delete', old.id, old.title, old.description);
    INSERT INTO chats_fts (rowid, title, description) VALUES (new.id, new.title, new.description);
END;

-- Index what is there already.
INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');
INSERT INTO chats_fts (chats_fts) VALUES ('rebuild');
