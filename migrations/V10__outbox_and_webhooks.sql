-- Integration events: a transactional outbox, a sequenced event log, webhook
-- subscriptions and their delivery log.
--
-- Ordering. A write appends its events to `outbox_pending` in its own
-- transaction (no shared lock, no per-tenant counter: concurrent batches of
-- one tenant never wait on each other). A single sequencer — whichever
-- instance holds advisory lock 7220310 — moves committed pending rows into
-- `events`, numbering them per tenant 1, 2, 3, ... in the order it sees
-- them commit. A transaction that commits later can therefore never land
-- behind a cursor a reader already passed: per-tenant sequences are
-- gapless and final, which the feed and the webhook cursors rely on.

CREATE TABLE outbox_pending (
    -- Insertion order: within one transaction, the order its events were
    -- written; across transactions only a tie-breaker.
    id           bigserial PRIMARY KEY,
    tenant_id    uuid NOT NULL,
    event_id     uuid NOT NULL,
    type         text NOT NULL,
    occurred_at  timestamptz NOT NULL DEFAULT now(),
    -- json, not jsonb: checked but not converted on the writer's path; the
    -- sequencer converts it once, off that path.
    payload      json NOT NULL
);

-- Per tenant: the last sequence number given and the highest one removed
-- by retention (a feed cursor below it has lost events).
CREATE TABLE event_heads (
    tenant_id       uuid PRIMARY KEY,
    last_seq        bigint NOT NULL DEFAULT 0,
    pruned_through  bigint NOT NULL DEFAULT 0
);

CREATE TABLE events (
    tenant_id    uuid NOT NULL,
    seq          bigint NOT NULL,
    event_id     uuid NOT NULL,
    type         text NOT NULL,
    occurred_at  timestamptz NOT NULL,
    -- When the sequencer published it (retention counts from here).
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    payload      jsonb NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);
-- Subscriptions and feed readers that want only some types.
CREATE INDEX idx_events_tenant_type_seq ON events (tenant_id, type, seq);
CREATE INDEX idx_events_recorded ON events (recorded_at);

CREATE TABLE webhook_subscriptions (
    tenant_id        uuid NOT NULL REFERENCES tenants(id),
    id               uuid NOT NULL,
    url              text NOT NULL,
    -- The URL's host: per-destination concurrency is counted by it.
    host             text NOT NULL,
    -- The HMAC key. Kept as given out (a signature needs the key itself);
    -- shown to the tenant once, at creation.
    secret           text NOT NULL,
    -- Empty = every type.
    event_types      text[] NOT NULL DEFAULT '{}',
    description      text,
    active           boolean NOT NULL DEFAULT true,
    -- Set by the worker after a long run of failures; cleared when the
    -- tenant re-activates the subscription.
    paused_at        timestamptz,
    paused_reason    text,
    -- Everything up to and including this seq has been delivered.
    cursor_seq       bigint NOT NULL DEFAULT 0,
    -- The run of failures on the event after the cursor.
    failures         integer NOT NULL DEFAULT 0,
    first_failure_at timestamptz,
    last_error       text,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    -- Claim by one worker: whoever holds an unexpired lease delivers.
    lease_owner      uuid,
    lease_until      timestamptz,
    version          integer NOT NULL DEFAULT 1,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    deleted_at       timestamptz,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX idx_webhooks_due ON webhook_subscriptions (next_attempt_at)
    WHERE active AND paused_at IS NULL AND deleted_at IS NULL;

CREATE TABLE webhook_deliveries (
    tenant_id        uuid NOT NULL,
    subscription_id  uuid NOT NULL,
    id               bigserial,
    event_seq        bigint NOT NULL,
    event_id         uuid NOT NULL,
    event_type       text NOT NULL,
    -- 1 for the first try of this event, 2 for the first retry, ...
    attempt          integer NOT NULL,
    status_code      integer,
    ok               boolean NOT NULL,
    error            text,
    latency_ms       integer NOT NULL,
    attempted_at     timestamptz NOT NULL DEFAULT now(),
    -- Which instance delivered it (lease owner).
    worker_id        uuid NOT NULL,
    PRIMARY KEY (tenant_id, subscription_id, id)
);
CREATE INDEX idx_webhook_deliveries_time ON webhook_deliveries (attempted_at);
