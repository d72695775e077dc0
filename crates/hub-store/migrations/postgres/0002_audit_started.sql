-- Audit records may say `started`: a write's record made durable before it is sent, so a
-- hub stopped while the call is in flight still has a record of it.

ALTER TABLE audit_records DROP CONSTRAINT audit_records_outcome_check;
ALTER TABLE audit_records ADD CONSTRAINT audit_records_outcome_check
    CHECK (outcome IN ('success', 'failure', 'rejected', 'started'));
