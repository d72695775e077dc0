-- Audit records may say `rate_limited`: the hub's rate budget for the upstream account
-- had no slot within the call's deadline, so nothing (more) was sent.

ALTER TABLE audit_records DROP CONSTRAINT audit_records_outcome_check;
ALTER TABLE audit_records ADD CONSTRAINT audit_records_outcome_check
    CHECK (outcome IN ('success', 'failure', 'rejected', 'started', 'applied_unreadable', 'rate_limited'));
