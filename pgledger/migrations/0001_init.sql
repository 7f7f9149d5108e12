-- mpg's ledger in PostgreSQL, schema 1: the tables that hold what the bbolt ledger keeps
-- (ledger/ledger.go's buckets, ledger/codec.go's journal, domain/types.go's Account,
-- Transfer and Message).
--
-- A FIRST DRAFT: the groundwork for the PostgreSQL ledger (issue 18), written before its
-- Submit, transfers and money rules. Whoever implements them may revise any table here
-- until a release has shipped this schema; after that, changes are new numbered files.
--
-- Portable SQL, for PostgreSQL and for CockroachDB and YugabyteDB: bigint ids assigned by
-- the ledger (no SERIAL, no sequences), no advisory locks, no LISTEN/NOTIFY, no triggers,
-- no stored procedures. Times are unix nanoseconds in bigint, as the bbolt ledger and the
-- domain types keep them, except leases, which run on the database's clock.
-- Amounts and balances are minor units; Go's uint64 is stored in a signed bigint with a
-- check that it is not negative (2^63 minor units is past any real sum).
-- Kinds, statuses and flags are domain/types.go's numbers.
-- "Sealed" columns hold what ledger/people.go and ledger/atrest.go seal: unreadable without
-- the person's key (parties.wrapped_key), so erasing a person erases them.
-- Migrate (pgledger/migrate.go) runs this file in one transaction and records version 1 in
-- mpg_schema.

-- meta mirrors the bbolt bucket "meta": the check values of the server keys the ledger was
-- used with ("key check <name>"), the identity key's check, and any other single values.
CREATE TABLE meta (
    key   text  PRIMARY KEY,
    value bytea NOT NULL
);

-- accounts mirrors "accounts" (the checkpoint records) and "owners" (the index by owner):
-- one row per account, balances always current (no checkpoint and replay: every transfer
-- updates its two rows in the transaction that writes it).
CREATE TABLE accounts (
    id              bigint   PRIMARY KEY CHECK (id >= 1), -- dense from 1, assigned by the ledger
    currency        text     NOT NULL,                    -- ISO 4217 code
    kind            smallint NOT NULL,                    -- domain.Kind
    owner           text     NOT NULL,                    -- a party id (~…), a merchant code, or a system owner (@…)
    name            text     NOT NULL DEFAULT '',         -- a person's name sealed under his key; others' in clear
    phone           text     NOT NULL DEFAULT '',         -- a merchant's number for payment notices
    tier            smallint NOT NULL DEFAULT 0,          -- KYC tier of a purse
    status          smallint NOT NULL,                    -- domain.Status
    flags           smallint NOT NULL DEFAULT 0,          -- domain.AccountFlags
    credit_limit    bigint   NOT NULL DEFAULT 0 CHECK (credit_limit >= 0),
    created         bigint   NOT NULL,                    -- unix nanos
    debits_pending  bigint   NOT NULL DEFAULT 0 CHECK (debits_pending >= 0),
    debits_posted   bigint   NOT NULL DEFAULT 0 CHECK (debits_posted >= 0),
    credits_pending bigint   NOT NULL DEFAULT 0 CHECK (credits_pending >= 0),
    credits_posted  bigint   NOT NULL DEFAULT 0 CHECK (credits_posted >= 0),
    last_seq        bigint   NOT NULL DEFAULT 0,          -- newest journal entry touching the account
    -- The purse's debits inside the rolling 24-hour window (domain.Spend): a JSON array of
    -- {"at": unix nanos, "amount": minor units}, rewritten with the balances.
    spends          jsonb    NOT NULL DEFAULT '[]'
);
CREATE INDEX accounts_owner ON accounts (owner, id);

-- journal mirrors "journal": the audit chain. payload is the entry body exactly as
-- ledger/codec.go encodes it after the type and time, so a bbolt ledger copied here verifies
-- byte for byte; hash = SHA-256(previous hash | seq | type | ts | payload).
CREATE TABLE journal (
    seq     bigint   PRIMARY KEY CHECK (seq >= 1),        -- dense from 1
    type    smallint NOT NULL,                            -- 1 account, 2 transfer, 3 status, 4 audit, 5 tier, 6 limit
    ts      bigint   NOT NULL,                            -- unix nanos
    payload bytea    NOT NULL,
    hash    bytea    NOT NULL CHECK (length(hash) = 32)
);

-- transfers mirrors "ids" (transfer id -> seq) and the transfers' journal entries, as
-- columns to query: a repeated id finds its first body here (idempotency), and an account's
-- history is read by index instead of the bbolt ledger's backward links.
CREATE TABLE transfers (
    id             bytea    PRIMARY KEY CHECK (length(id) = 16), -- domain.ID, chosen by the caller
    seq            bigint   NOT NULL UNIQUE,                     -- its journal entry
    debit          bigint   NOT NULL,
    credit         bigint   NOT NULL,
    amount         bigint   NOT NULL CHECK (amount >= 0),
    pending_id     bytea,                                        -- post/void: the pending transfer
    pending_amount bigint   NOT NULL DEFAULT 0 CHECK (pending_amount >= 0),
    code           integer  NOT NULL DEFAULT 0,
    flags          integer  NOT NULL DEFAULT 0,                  -- domain.TransferFlags
    currency       text     NOT NULL,
    ref            text     NOT NULL DEFAULT '',
    for_party      text     NOT NULL DEFAULT '',                 -- whom a pending transfer holds money for
    ts             bigint   NOT NULL,                            -- unix nanos
    timeout        bigint   NOT NULL DEFAULT 0,                  -- pending: nanoseconds until it expires
    expires        bigint   NOT NULL DEFAULT 0                   -- pending: ts + timeout (0: never)
);
CREATE INDEX transfers_debit ON transfers (debit, seq);
CREATE INDEX transfers_credit ON transfers (credit, seq);

-- pending mirrors "pending": the pending transfers still open (neither posted, voided nor
-- expired), with their expiry for the sweep.
CREATE TABLE pending (
    seq         bigint PRIMARY KEY,                      -- the pending transfer's journal entry
    transfer_id bytea  NOT NULL UNIQUE,
    expires     bigint NOT NULL DEFAULT 0                -- unix nanos; 0: never
);
CREATE INDEX pending_expires ON pending (expires) WHERE expires > 0;

-- holds mirrors "holds": the open pending transfers that hold money for someone (For),
-- by whom they hold it for, so a claim finds exactly its own.
CREATE TABLE holds (
    for_party text   NOT NULL,
    seq       bigint NOT NULL,                           -- the pending transfer's journal entry
    PRIMARY KEY (for_party, seq)
);

-- records mirrors "profiles": the engine's records (profiles, payments, merchants,
-- webhooks and their queue, bank requests, disputes...), each written with compare-and-set
-- on its version. data is sealed when a person's (ledger/atrest.go).
CREATE TABLE records (
    key     text   PRIMARY KEY,
    data    bytea  NOT NULL,
    version bigint NOT NULL DEFAULT 0 CHECK (version >= 0)
);

-- dedupe mirrors "dedupe" and "dedupe_keys": inbound messages already taken, so a copy
-- redelivered by the SMSC (to this daemon or another) moves nothing twice.
CREATE TABLE dedupe (
    key     bytea   PRIMARY KEY CHECK (length(key) <= 128), -- a keyed MAC of sender and text
    result  bytea   NOT NULL CHECK (length(result) <= 512), -- the answer a duplicate gets
    expires bigint  NOT NULL,                               -- unix nanos
    retry   boolean NOT NULL DEFAULT false                  -- a refusal a later copy may retry
);
CREATE INDEX dedupe_expires ON dedupe (expires);

-- outbox mirrors "outbox" and "outq": the replies, written in the transaction that moved
-- the money, and where each is on its way out. The queue is the index on the messages still
-- to send; senders take them with SELECT ... FOR UPDATE SKIP LOCKED.
CREATE TABLE outbox (
    id        bigint   PRIMARY KEY CHECK (id >= 1),      -- assigned by the ledger
    sender    text     NOT NULL,                         -- domain.Message.From
    recipient text     NOT NULL,                         -- domain.Message.To: a person by his party id
    text      bytea    NOT NULL,                         -- sealed under the recipient's key
    secret    bytea,                                     -- domain.Message.Sealed: sealed by the caller
    status    smallint NOT NULL,                         -- domain.MessageStatus
    attempts  integer  NOT NULL DEFAULT 0,
    smsc_id   text     NOT NULL DEFAULT '',              -- the SMSC's ids, comma-separated (one per part)
    reason    text     NOT NULL DEFAULT '',
    urgent    boolean  NOT NULL DEFAULT false,           -- moves or reserves money: leaves first
    next_at   bigint   NOT NULL DEFAULT 0,               -- unix nanos of the next try; 0: now
    unknowns  smallint NOT NULL DEFAULT 0,               -- submits that got no answer
    created   bigint   NOT NULL                          -- unix nanos
);
-- Queued (1) and unknown (6) messages are still to send.
CREATE INDEX outbox_queue ON outbox (urgent, next_at, id) WHERE status IN (1, 6);
CREATE INDEX outbox_created ON outbox (created);

-- smsc_ids mirrors "smscids": the SMSC's message ids (one per part sent) to the outbox
-- message, for delivery receipts.
CREATE TABLE smsc_ids (
    smsc_id    text   PRIMARY KEY,
    message_id bigint NOT NULL
);
CREATE INDEX smsc_ids_message ON smsc_ids (message_id);

-- early_receipts mirrors "early_receipts": delivery receipts that came before their submit's
-- answer was recorded, applied when it is.
CREATE TABLE early_receipts (
    smsc_id  text     PRIMARY KEY,
    received bigint   NOT NULL,                          -- unix nanos, for the sweep
    status   smallint NOT NULL,                          -- domain.MessageStatus it settles to
    state    text     NOT NULL DEFAULT ''                -- the receipt's state, as the reason
);

-- parts mirrors "parts": the parts of long inbound messages kept until the whole message is
-- taken, or swept when it never completes.
CREATE TABLE parts (
    sender   bytea    NOT NULL,                          -- a keyed hash of the sender's number
    msg      text     NOT NULL,                          -- the concatenation reference
    part_seq smallint NOT NULL CHECK (part_seq >= 1),
    expires  bigint   NOT NULL,                          -- unix nanos
    coding   smallint NOT NULL,
    payload  bytea    NOT NULL,                          -- sealed
    PRIMARY KEY (sender, msg, part_seq)
);
CREATE INDEX parts_expires ON parts (expires);

-- parties mirrors "party_keys" and "parties": a person's key, wrapped under the server's
-- identity key, and his number sealed under it. Erasing him deletes the row.
CREATE TABLE parties (
    party         text  PRIMARY KEY,                     -- ~ then 16 hex digits
    wrapped_key   bytea NOT NULL,
    sealed_number bytea NOT NULL
);

-- party_index mirrors "party_index": an HMAC of a number under the index key -> its party.
CREATE TABLE party_index (
    hmac  bytea PRIMARY KEY,
    party text  NOT NULL
);
CREATE INDEX party_index_party ON party_index (party);

-- leases have no bbolt bucket (one process needs none): work that must run once among
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
