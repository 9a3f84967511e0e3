-- The three storage shapes. Strings compare bytewise (BINARY collation), as
-- Go strings do; times are microseconds since the Unix epoch, UTC.

CREATE TABLE accounts (
	host TEXT NOT NULL,
	username TEXT NOT NULL,
	sha1_salt BLOB NOT NULL,
	sha1_iterations INTEGER NOT NULL,
	sha1_stored_key BLOB NOT NULL,
	sha1_server_key BLOB NOT NULL,
	sha256_salt BLOB NOT NULL,
	sha256_iterations INTEGER NOT NULL,
	sha256_stored_key BLOB NOT NULL,
	sha256_server_key BLOB NOT NULL,
	created INTEGER NOT NULL,
	PRIMARY KEY (host, username)
) STRICT;

-- The key starts with owner so that DeleteOwner is an index range too.
CREATE TABLE kv (
	owner TEXT NOT NULL,
	store TEXT NOT NULL,
	entry_key TEXT NOT NULL,
	host TEXT NOT NULL,
	entry_value BLOB NOT NULL,
	PRIMARY KEY (owner, store, entry_key)
) STRICT;
CREATE INDEX kv_store_host ON kv (store, host, owner);

-- seq is the rowid: it orders items of equal ts by insertion. Without
-- AUTOINCREMENT SQLite may reuse the value of a deleted last row, which is
-- harmless: the new row still sorts after every existing one.
CREATE TABLE archive (
	seq INTEGER PRIMARY KEY,
	owner TEXT NOT NULL,
	store TEXT NOT NULL,
	host TEXT NOT NULL,
	id TEXT NOT NULL UNIQUE,
	ts INTEGER NOT NULL,
	with_jid TEXT NOT NULL,
	with_bare TEXT NOT NULL,
	data BLOB NOT NULL
) STRICT;
CREATE INDEX archive_owner_ts ON archive (owner, store, ts, seq);
CREATE INDEX archive_owner_with ON archive (owner, store, with_bare, ts, seq);
CREATE INDEX archive_store_ts ON archive (store, ts);
