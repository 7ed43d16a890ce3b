-- Tenants and their API tokens. A token names its tenant (it embeds the
-- tenant id) so every token lookup is keyed by tenant first.
CREATE TABLE tenants (
    id          uuid PRIMARY KEY,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    currency    char(3) NOT NULL DEFAULT 'UZS',
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_tokens (
    tenant_id   uuid NOT NULL REFERENCES tenants(id),
    id          uuid NOT NULL,
    -- sha256 of the whole token: tokens are 256-bit random, so a fast hash
    -- is enough and keeps auth off the CPU budget.
    token_hash  bytea NOT NULL,
    role        text NOT NULL CHECK (role IN ('owner', 'manager', 'register', 'read_only')),
    register_id uuid,
    name        text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, token_hash)
);
