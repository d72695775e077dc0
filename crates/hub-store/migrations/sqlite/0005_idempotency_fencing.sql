-- Idempotency claims carry a fencing token (only the current holder may complete or
-- release a key) and count takeovers of lapsed claims (a taken-over request may already
-- have taken effect upstream).

ALTER TABLE idempotency_keys ADD COLUMN claim_token TEXT;
ALTER TABLE idempotency_keys ADD COLUMN takeovers BIGINT NOT NULL DEFAULT 0;
