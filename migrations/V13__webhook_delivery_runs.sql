-- The webhook delivery log records runs of successes in one row.
--
-- The worker records successful deliveries of a subscription in pages (one
-- cursor move per page of consecutive 2xx answers). Instead of one log row
-- per delivered event, a page's first-attempt successes are logged as one
-- row standing for the run `first_event_seq`..`event_seq` (`events`
-- deliveries, every one answered 2xx at its first attempt; `event_id` and
-- `event_type` name the last, `latency_ms` is the slowest). Every failed
-- attempt, and a success after failures, keeps a row of its own.
-- Rows written before this migration are single attempts (first_event_seq
-- NULL reads as event_seq, events 1).
ALTER TABLE webhook_deliveries
    ADD COLUMN first_event_seq bigint,
    ADD COLUMN events integer NOT NULL DEFAULT 1;
