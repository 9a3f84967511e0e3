-- The three storage shapes. Strings are VARBINARY so that they compare
-- bytewise, as Go strings do: no case folding, no trailing-space padding.
-- Indexed columns are bounded so that every index stays within InnoDB's
-- 3072-byte key limit. Times are microseconds since the Unix epoch, UTC.
-- MySQL commits DDL implicitly, so this file is written to be re-runnable
-- (IF NOT EXISTS, indexes inline) should it be interrupted half-way.

CREATE TABLE IF NOT EXISTS accounts (
	host VARBINARY(1023) NOT NULL,
	username VARBINARY(1023) NOT NULL,
	sha1_salt BLOB NOT NULL,
	sha1_iterations INTEGER NOT NULL,
	sha1_stored_key BLOB NOT NULL,
	sha1_server_key BLOB NOT NULL,
	sha256_salt BLOB NOT NULL,
	sha256_iterations INTEGER NOT NULL,
	sha256_stored_key BLOB NOT NULL,
	sha256_server_key BLOB NOT NULL,
	created BIGINT NOT NULL,
	PRIMARY KEY (host, username)
) ENGINE=InnoDB ROW_FORMAT=DYNAMIC;

-- The key starts with owner so that DeleteOwner is an index range too.
CREATE TABLE IF NOT EXISTS kv (
	owner VARBINARY(1023) NOT NULL,
	store VARBINARY(64) NOT NULL,
	entry_key VARBINARY(1023) NOT NULL,
	host VARBINARY(1023) NOT NULL,
	entry_value LONGBLOB NOT NULL,
	PRIMARY KEY (owner, store, entry_key),
	INDEX kv_store_host (store, host, owner)
) ENGINE=InnoDB ROW_FORMAT=DYNAMIC;

CREATE TABLE IF NOT EXISTS archive (
	seq BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
	owner VARBINARY(1023) NOT NULL,
	store VARBINARY(64) NOT NULL,
	host VARBINARY(1023) NOT NULL,
	id VARBINARY(255) NOT NULL,
	ts BIGINT NOT NULL,
	with_jid VARBINARY(3071) NOT NULL,
	with_bare VARBINARY(1023) NOT NULL,
	data LONGBLOB NOT NULL,
	UNIQUE INDEX archive_id (id),
	INDEX archive_owner_ts (owner, store, ts, seq),
	INDEX archive_owner_with (owner, store, with_bare, ts, seq),
	INDEX archive_store_ts (store, ts)
) ENGINE=InnoDB ROW_FORMAT=DYNAMIC;
