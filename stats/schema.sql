-- Bayes token store, schema version 1 (PRAGMA user_version).
-- Users: id 0 is the global store; learned_* count messages learned per class.
CREATE TABLE IF NOT EXISTS users (
	id INTEGER PRIMARY KEY,
	name TEXT NOT NULL UNIQUE,
	learned_spam INTEGER NOT NULL DEFAULT 0,
	learned_ham INTEGER NOT NULL DEFAULT 0
);
INSERT OR IGNORE INTO users (id, name) VALUES (0, '');
-- One row per (user, token hash); seen = learn generation of the last touch,
-- the age used by pruning.
CREATE TABLE IF NOT EXISTS tokens (
	user_id INTEGER NOT NULL,
	hash INTEGER NOT NULL,
	spam INTEGER NOT NULL DEFAULT 0,
	ham INTEGER NOT NULL DEFAULT 0,
	seen INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (user_id, hash)
) WITHOUT ROWID;
-- Learned messages: digest -> class, so learning twice is a no-op and a
-- learn into the other class moves the message. global = the global store
-- was updated too.
CREATE TABLE IF NOT EXISTS learned (
	digest BLOB NOT NULL,
	user_id INTEGER NOT NULL,
	spam INTEGER NOT NULL,
	global INTEGER NOT NULL,
	PRIMARY KEY (digest, user_id)
) WITHOUT ROWID;
-- Counters: generation (learns ever), rev_spam, rev_ham.
CREATE TABLE IF NOT EXISTS meta (
	key TEXT PRIMARY KEY,
	value INTEGER NOT NULL
) WITHOUT ROWID;
PRAGMA user_version = 1;
