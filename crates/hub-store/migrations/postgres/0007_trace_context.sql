-- Dead letters keep the W3C traceparent of the span their write failed in (a replay's
-- span links to it), and audit records the trace id of the span their call was made in.
-- Rows written before this migration, and untraced ones, have NULL.

ALTER TABLE dlq_entries ADD COLUMN traceparent TEXT;
ALTER TABLE audit_records ADD COLUMN trace_id TEXT;
