-- People of the back office: users (owner, manager) who sign in with e-mail
-- and password, their server-side sessions, the failed-login ledger that
-- slows and limits guessing, and catalog import jobs (progress and report).

CREATE TABLE users (
    tenant_id     uuid NOT NULL REFERENCES tenants(id),
    id            uuid NOT NULL,
    -- Stored lower-cased; one account per address across all tenants, so
    -- sign-in needs only the e-mail to find the tenant.
    email         text NOT NULL CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254),
    name          text NOT NULL,
    role          text NOT NULL CHECK (role IN ('owner', 'manager')),
    -- argon2id PHC string; never logged, never returned.
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    disabled_at   timestamptz,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX users_email ON users (email);

CREATE TABLE sessions (
    -- sha256 of the cookie value: a stolen database dump holds no live session.
    id_hash       bytea PRIMARY KEY,
    tenant_id     uuid NOT NULL,
    user_id       uuid NOT NULL,
    -- Sent with every cookie-authenticated write (X-CSRF-Token).
    csrf_token    text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    -- Absolute expiry; the idle expiry is last_seen_at + the configured idle time.
    expires_at    timestamptz NOT NULL,
    revoked_at    timestamptz,
    address       text,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id)
);
CREATE INDEX sessions_user ON sessions (tenant_id, user_id) WHERE revoked_at IS NULL;

-- Failed sign-ins per account and per address, in a sliding window kept
-- in PostgreSQL so every instance counts the same failures.
CREATE TABLE login_failures (
    scope         text NOT NULL CHECK (scope IN ('account', 'address')),
    key           text NOT NULL,
    failures      integer NOT NULL DEFAULT 0,
    window_start  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
);

CREATE TABLE import_jobs (
    tenant_id     uuid NOT NULL REFERENCES tenants(id),
    id            uuid NOT NULL,
    status        text NOT NULL CHECK (status IN ('running', 'done', 'failed')),
    rows_read     bigint NOT NULL DEFAULT 0,
    rows_imported bigint NOT NULL DEFAULT 0,
    rows_unchanged bigint NOT NULL DEFAULT 0,
    rows_failed   bigint NOT NULL DEFAULT 0,
    -- First errors ({line, column, reason}), bounded by the importer.
    errors        jsonb NOT NULL DEFAULT '[]'::jsonb,
    started_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    PRIMARY KEY (tenant_id, id)
);

-- The dashboard's numbers for one tenant between two instants, from the
-- receipts themselves (the reports API will replace this read). Returns
-- one JSON document so the page costs one round trip.
CREATE FUNCTION jowi_dashboard(p_tenant uuid, p_from timestamptz, p_to timestamptz,
                               p_store uuid, p_tz text)
RETURNS jsonb LANGUAGE sql STABLE AS $$
WITH r AS (
    SELECT r.id, r.occurred_at, r.store_id, r.kind, r.total
    FROM receipts r
    WHERE r.tenant_id = p_tenant AND r.occurred_at >= p_from AND r.occurred_at < p_to
      AND (p_store IS NULL OR r.store_id = p_store)
), signed AS (
    SELECT id, occurred_at, store_id, kind,
           CASE WHEN kind = 'return' THEN -total ELSE total END AS amount
    FROM r
)
SELECT jsonb_build_object(
    'revenue', COALESCE((SELECT sum(amount) FROM signed), 0),
    'receipts', (SELECT count(*) FROM signed WHERE kind = 'sale'),
    'returns', (SELECT count(*) FROM signed WHERE kind = 'return'),
    'by_hour', COALESCE((SELECT jsonb_agg(jsonb_build_object('hour', h, 'revenue', v) ORDER BY h)
                          FROM (SELECT extract(hour FROM occurred_at AT TIME ZONE p_tz)::int AS h,
                                       sum(amount) AS v
                                FROM signed GROUP BY 1) x), '[]'::jsonb),
    'by_store', COALESCE((SELECT jsonb_agg(jsonb_build_object('store_id', store_id, 'revenue', v,
                                                              'receipts', n) ORDER BY v DESC)
                           FROM (SELECT store_id, sum(amount) AS v,
                                        count(*) FILTER (WHERE kind = 'sale') AS n
                                 FROM signed GROUP BY 1) x), '[]'::jsonb),
    'by_payment', COALESCE((SELECT jsonb_agg(jsonb_build_object('method', method, 'amount', v) ORDER BY v DESC)
                             FROM (SELECT p.method,
                                          sum(CASE WHEN s.kind = 'return' THEN -p.amount ELSE p.amount END) AS v
                                   FROM payments p JOIN signed s ON s.id = p.receipt_id
                                   WHERE p.tenant_id = p_tenant AND p.occurred_at >= p_from
                                     AND p.occurred_at < p_to
                                   GROUP BY 1) x), '[]'::jsonb),
    'top_products', COALESCE((SELECT jsonb_agg(jsonb_build_object('product_id', product_id, 'name', name,
                                                                  'quantity', q, 'revenue', v) ORDER BY v DESC)
                               FROM (SELECT i.product_id, min(pr.name) AS name,
                                            sum(CASE WHEN s.kind = 'return' THEN -i.quantity ELSE i.quantity END) AS q,
                                            sum(CASE WHEN s.kind = 'return' THEN -i.total ELSE i.total END) AS v
                                     FROM receipt_items i
                                     JOIN signed s ON s.id = i.receipt_id
                                     LEFT JOIN products pr ON pr.tenant_id = i.tenant_id AND pr.id = i.product_id
                                     WHERE i.tenant_id = p_tenant AND i.occurred_at >= p_from
                                       AND i.occurred_at < p_to
                                     GROUP BY i.product_id ORDER BY v DESC LIMIT 10) x), '[]'::jsonb)
)
$$;

-- Catalog import upserts by SKU when the row has one.
CREATE INDEX idx_variants_tenant_sku ON product_variants (tenant_id, sku)
    WHERE deleted_at IS NULL AND sku IS NOT NULL;
