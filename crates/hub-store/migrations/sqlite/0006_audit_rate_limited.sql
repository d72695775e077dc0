-- Audit records may say `rate_limited`: the hub's rate budget for the upstream account
-- had no slot within the call's deadline, so nothing (more) was sent.
-- SQLite cannot alter a CHECK constraint, so the table is rebuilt with its rows, ids and
-- indexes.

CREATE TABLE audit_records_v2 (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    at_us           BIGINT  NOT NULL,
    adapter         TEXT    NOT NULL,
    operation       TEXT    NOT NULL,
    outcome         TEXT    NOT NULL CHECK (outcome IN ('success', 'failure', 'rejected', 'started', 'applied_unreadable', 'rate_limited')),
    http_status     BIGINT,
    attempts        BIGINT  NOT NULL,
    duration_ms     BIGINT  NOT NULL,
    request_id      TEXT,
    conversation_id TEXT,
    params          TEXT    NOT NULL,
    error           TEXT
);
INSERT INTO audit_records_v2
    (id, at_us, adapter, operation, outcome, http_status, attempts, duration_ms,
     request_id, conversation_id, params, error)
SELECT id, at_us, adapter, operation, outcome, http_status, attempts, duration_ms,
       request_id, conversation_id, params, error
FROM audit_records;
DROP TABLE audit_records;
ALTER TABLE audit_records_v2 RENAME TO audit_records;
CREATE INDEX audit_records_newest ON audit_records (at_us DESC, id DESC);
CREATE INDEX audit_records_adapter_newest ON audit_records (adapter, at_us DESC, id DESC);
