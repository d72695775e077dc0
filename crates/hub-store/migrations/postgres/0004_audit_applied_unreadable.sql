-- Audit records may say `applied_unreadable`: a write the upstream accepted (2xx) whose
-- answer could not be read; it is not retried or dead-lettered, and awaits reconciliation.

ALTER TABLE audit_records DROP CONSTRAINT audit_records_outcome_check;
ALTER TABLE audit_records ADD CONSTRAINT audit_records_outcome_check
    CHECK (outcome IN ('success', 'failure', 'rejected', 'started', 'applied_unreadable'));
