-- The hub's own stores on SQLite: audit log, dead-letter queue, idempotency keys, webhook ids.
-- Times are Unix microseconds (UTC) in BIGINT columns so both dialects compare them the same way.

CREATE TABLE audit_records (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    at_us           BIGINT  NOT NULL,
    adapter         TEXT    NOT NULL,
    operation       TEXT    NOT NULL,
    outcome         TEXT    NOT NULL CHECK (outcome IN ('success', 'failure', 'rejected')),
    http_status     BIGINT,
    attempts        BIGINT  NOT NULL,
    duration_ms     BIGINT  NOT NULL,
    request_id      TEXT,
    conversation_id TEXT,
    params          TEXT    NOT NULL,
    error           TEXT
);
CREATE INDEX audit_records_newest ON audit_records (at_us DESC, id DESC);
CREATE INDEX audit_records_adapter_newest ON audit_records (adapter, at_us DESC, id DESC);

CREATE TABLE dlq_entries (
    id              TEXT    PRIMARY KEY,
    adapter         TEXT    NOT NULL,
    operation       TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    idempotency_key TEXT,
    error           TEXT    NOT NULL,
    error_code      TEXT    NOT NULL,
    attempts        BIGINT  NOT NULL,
    request_id      TEXT,
    conversation_id TEXT,
    created_us      BIGINT  NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('pending', 'replayed', 'discarded')),
    result          TEXT,
    reason          TEXT,
    acted_by        TEXT,
    acted_us        BIGINT,
    claim_token     TEXT,
    claim_until_us  BIGINT,
    claimed_by      TEXT
);
CREATE INDEX dlq_entries_newest ON dlq_entries (created_us DESC, id DESC);
CREATE INDEX dlq_entries_status_newest ON dlq_entries (status, created_us DESC, id DESC);

CREATE TABLE idempotency_keys (
    idem_key        TEXT    PRIMARY KEY,
    fingerprint     TEXT    NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN ('in_flight', 'completed')),
    lease_until_us  BIGINT  NOT NULL,
    created_us      BIGINT  NOT NULL,
    completed_us    BIGINT,
    status          BIGINT,
    content_type    TEXT,
    body            BLOB
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_us);

CREATE TABLE webhook_ids (
    webhook_id      TEXT    PRIMARY KEY,
    expires_us      BIGINT  NOT NULL
);
CREATE INDEX webhook_ids_expires ON webhook_ids (expires_us);
