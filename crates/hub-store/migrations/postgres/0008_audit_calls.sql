-- How many calls an audit record stands for: 1, except for refusals by the hub itself
-- (an open circuit, a spent rate budget) past the first of a second, recorded together
-- as one record with their number. Rows written before this migration stand for one.

ALTER TABLE audit_records ADD COLUMN calls BIGINT NOT NULL DEFAULT 1;
