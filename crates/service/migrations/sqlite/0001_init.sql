-- The Warrant service's schema (SQLite). Kept in step with ../postgres/0001_init.sql: the same tables, columns
-- and constraints; only the spelling of types differs (tests/e2e checks both schemas match). Times are unix
-- seconds; amounts and nonces are decimal TEXT (U256 never fits a 64-bit column).

CREATE TABLE meta (
    k TEXT PRIMARY KEY,
    v TEXT NOT NULL
);

CREATE TABLE keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    address TEXT NOT NULL,
    sealed BLOB NOT NULL,
    nonce_lane BIGINT NOT NULL,
    grant_token TEXT,
    account TEXT,
    session_id TEXT,
    state TEXT NOT NULL,
    state_reason TEXT,
    created_at BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL,
    sessions TEXT NOT NULL,
    label TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    key_id TEXT NOT NULL REFERENCES keys (id),
    calls TEXT NOT NULL,
    schedule TEXT NOT NULL,
    on_refused TEXT NOT NULL,
    catch_up TEXT NOT NULL,
    state TEXT NOT NULL,
    next_run_at BIGINT,
    idempotency_key TEXT,
    created_at BIGINT NOT NULL,
    UNIQUE (key_id, idempotency_key)
);
CREATE INDEX jobs_due ON jobs (key_id, state, next_run_at);

CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    job_id TEXT NOT NULL REFERENCES jobs (id),
    key_id TEXT NOT NULL REFERENCES keys (id),
    slot BIGINT NOT NULL,
    state TEXT NOT NULL,
    tries BIGINT NOT NULL DEFAULT 0,
    not_before BIGINT NOT NULL,
    nonce TEXT,
    period BIGINT,
    user_op_hash TEXT,
    transaction_hash TEXT,
    rule TEXT,
    error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (job_id, slot)
);
CREATE INDEX runs_open ON runs (key_id, state, slot);

CREATE TABLE attempts (
    run_id TEXT NOT NULL REFERENCES runs (id),
    n BIGINT NOT NULL,
    nonce TEXT NOT NULL,
    period BIGINT NOT NULL,
    user_op_hash TEXT NOT NULL UNIQUE,
    user_op TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (run_id, n)
);

CREATE TABLE audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail TEXT NOT NULL
);
-- Append-only: the service never updates or deletes an audit row, and the database refuses it too.
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
