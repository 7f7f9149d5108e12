-- mpg's ledger in PostgreSQL, schema 1: the ledger's buckets as one key-value table, the
-- writer lock its writable transactions take, and the leases that share work among daemons.
--
-- The ledger (package ledger) keeps all its state in named, ordered maps of byte keys to
-- byte values (ledger/store.go's Store); pgledger/store.go keeps them here, so the ledger's
-- rules, journal, records and outbox are written once, for a bbolt file and for this
-- database alike. Not released yet: revised in place until a release ships it; after that,
-- changes are new numbered files.
--
-- Portable SQL, for PostgreSQL and for CockroachDB and YugabyteDB: no SERIAL, no sequences,
-- no advisory locks, no LISTEN/NOTIFY, no triggers, no stored procedures.
-- Migrate (pgledger/migrate.go) runs this file in one transaction and records version 1 in
-- mpg_schema.

-- kv holds every bucket's keys and values, in key order per bucket (the primary key's
-- index serves the cursors' range reads). Keys compare as bytes, as bbolt's do.
CREATE TABLE kv (
    bucket text  NOT NULL,
    k      bytea NOT NULL,
    v      bytea NOT NULL,
    PRIMARY KEY (bucket, k)
);

-- writer_lock is one row that every writable transaction of the store locks first
-- (SELECT ... FOR UPDATE) and holds to its end, so the ledgers' batches, in all daemons,
-- follow one another as a bbolt file's writable transactions do.
CREATE TABLE writer_lock (
    id int PRIMARY KEY CHECK (id = 1)
);
INSERT INTO writer_lock (id) VALUES (1);

-- leases have no bbolt counterpart (one process needs none): work that must run once among
-- several daemons (outbox sending, the bank worker, webhooks, expiries, statements) is done
-- by the holder of its lease, which renews it; another daemon takes it over once it has
-- expired. On the database's clock, so daemons' clocks need not agree. pgledger/lease.go
-- writes them: a row is never deleted, so token only grows.
CREATE TABLE leases (
    name     text        PRIMARY KEY,                    -- the work: "outbox", "bank"...
    holder   text        NOT NULL,                       -- the daemon holding it; '' once released
    token    bigint      NOT NULL CHECK (token >= 1),    -- fencing token: +1 at every new tenure
    acquired timestamptz NOT NULL,                       -- when this tenure began
    renewed  timestamptz NOT NULL,                       -- the last grant (acquisition or renewal)
    expires  timestamptz NOT NULL                        -- free for another holder from then
);
