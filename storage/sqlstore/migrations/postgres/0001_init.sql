-- The three storage shapes. Strings use the "C" collation so that they
-- compare and sort bytewise, as Go strings do, whatever the database's
-- locale; times are microseconds since the Unix epoch, UTC.

CREATE TABLE accounts (
	host TEXT COLLATE "C" NOT NULL,
	username TEXT COLLATE "C" NOT NULL,
	sha1_salt BYTEA NOT NULL,
	sha1_iterations INTEGER NOT NULL,
	sha1_stored_key BYTEA NOT NULL,
	sha1_server_key BYTEA NOT NULL,
	sha256_salt BYTEA NOT NULL,
	sha256_iterations INTEGER NOT NULL,
	sha256_stored_key BYTEA NOT NULL,
	sha256_server_key BYTEA NOT NULL,
	created BIGINT NOT NULL,
	PRIMARY KEY (host, username)
);

-- The key starts with owner so that DeleteOwner is an index range too.
CREATE TABLE kv (
	owner TEXT COLLATE "C" NOT NULL,
	store TEXT COLLATE "C" NOT NULL,
	entry_key TEXT COLLATE "C" NOT NULL,
	host TEXT COLLATE "C" NOT NULL,
	entry_value BYTEA NOT NULL,
	PRIMARY KEY (owner, store, entry_key)
);
CREATE INDEX kv_store_host ON kv (store, host, owner);

CREATE TABLE archive (
	seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	owner TEXT COLLATE "C" NOT NULL,
	store TEXT COLLATE "C" NOT NULL,
	host TEXT COLLATE "C" NOT NULL,
	id TEXT COLLATE "C" NOT NULL UNIQUE,
	ts BIGINT NOT NULL,
	with_jid TEXT COLLATE "C" NOT NULL,
	with_bare TEXT COLLATE "C" NOT NULL,
	data BYTEA NOT NULL
);
CREATE INDEX archive_owner_ts ON archive (owner, store, ts, seq);
CREATE INDEX archive_owner_with ON archive (owner, store, with_bare, ts, seq);
CREATE INDEX archive_store_ts ON archive (store, ts);
