-- Operations: a movable clock, and monthly partitions that the server keeps
-- by itself (actors/src/maintenance/partitions.rs runs the steps below
-- periodically, one step per short transaction under
-- pg_try_advisory_xact_lock(7220301), so one instance of many does the
-- work and PgBouncer's transaction pooling is fine).
--
-- Partition bounds are whole UTC months; partition names are
-- <table>_YYYYMM. Rows that land in a <table>_default partition (no
-- partition for their month yet) are moved into their month's partition by
-- the next run; months older than the retention setting are detached
-- (never dropped) and renamed <table>_YYYYMM_detached_<when>.

-- The clock partitions are kept by. Shifted only by tests and drills
-- (`UPDATE jowi_clock SET shift = '-14 months'`); absent row = real time.
CREATE TABLE jowi_clock (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    shift      interval NOT NULL DEFAULT '0'
);

CREATE FUNCTION jowi_now() RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    SELECT now() + COALESCE((SELECT shift FROM jowi_clock), interval '0')
$$;

-- The column a partitioned table is ranged by, from the catalog.
CREATE FUNCTION jowi_partition_key(parent text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT a.attname::text
      FROM pg_partitioned_table p
      JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]
     WHERE p.partrelid = parent::regclass
$$;

-- The monthly partitions currently attached to `parent`.
CREATE FUNCTION jowi_attached_months(parent text) RETURNS SETOF date
LANGUAGE sql STABLE AS $$
    SELECT to_date(right(c.relname, 6), 'YYYYMM')
      FROM pg_inherits i
      JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = parent::regclass
       AND c.relname ~ ('^' || parent || '_[0-9]{6}$')
$$;

-- Makes `month` a partition of `parent`, moving that month's rows out of
-- the default partition first. Answers the rows moved (0 when the month
-- was already attached). The partition is built beside the table with its
-- indexes and a CHECK of its range, so the only strong lock (the default
-- partition's, which ATTACH needs anyway) is held for the row move and a
-- catalog update; the caller bounds the wait with lock_timeout.
CREATE FUNCTION jowi_attach_month(parent text, month date) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    part  text := parent || '_' || to_char(month, 'YYYYMM');
    dflt  text := parent || '_default';
    key   text := jowi_partition_key(parent);
    lo    timestamptz := date_trunc('month', month)::timestamp AT TIME ZONE 'UTC';
    hi    timestamptz := (date_trunc('month', month) + interval '1 month')::timestamp AT TIME ZONE 'UTC';
    moved bigint := 0;
BEGIN
    IF month IN (SELECT jowi_attached_months(parent)) THEN
        RETURN 0;
    END IF;
    IF to_regclass(part) IS NOT NULL THEN
        RAISE EXCEPTION 'table % exists but is not a partition of %; rename or drop it', part, parent;
    END IF;
    EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)',
                   part, parent);
    EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I CHECK (%I >= %L AND %I < %L)',
                   part, part || '_range', key, lo, key, hi);
    -- Inserts into the default partition wait from here to COMMIT; inserts
    -- routed to other partitions never do.
    EXECUTE format('LOCK TABLE %I IN ACCESS EXCLUSIVE MODE', dflt);
    EXECUTE format('WITH m AS (DELETE FROM %I WHERE %I >= $1 AND %I < $2 RETURNING *) INSERT INTO %I SELECT * FROM m',
                   dflt, key, key, part) USING lo, hi;
    GET DIAGNOSTICS moved = ROW_COUNT;
    EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', parent, part, lo, hi);
    EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', part, part || '_range');
    RETURN moved;
END $$;

-- Detaches `month` from `parent` (the table and its rows stay, renamed).
-- Answers the new name, or NULL when the month was not attached.
CREATE FUNCTION jowi_detach_month(parent text, month date) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    part text := parent || '_' || to_char(month, 'YYYYMM');
    kept text := part || '_detached_' || to_char(now() AT TIME ZONE 'UTC', 'YYYYMMDDHH24MISS');
BEGIN
    IF month NOT IN (SELECT jowi_attached_months(parent)) THEN
        RETURN NULL;
    END IF;
    EXECUTE format('ALTER TABLE %I DETACH PARTITION %I', parent, part);
    EXECUTE format('ALTER TABLE %I RENAME TO %I', part, kept);
    RETURN kept;
END $$;

-- What a maintenance run should do, in order: attach every month that has
-- rows in a default partition, attach the months from last month to
-- `months_ahead` ahead of jowi_now(), then (retention_months > 0) detach
-- the months older than that many months before the current one.
CREATE FUNCTION jowi_partition_plan(months_ahead integer, retention_months integer)
RETURNS TABLE (action text, parent text, month date)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    t text;
    this_month date := date_trunc('month', jowi_now() AT TIME ZONE 'UTC')::date;
    m date;
BEGIN
    FOREACH t IN ARRAY ARRAY['receipts', 'receipt_items', 'payments', 'stock_movements'] LOOP
        FOR m IN EXECUTE format(
            'SELECT DISTINCT date_trunc(''month'', %I AT TIME ZONE ''UTC'')::date FROM %I ORDER BY 1',
            jowi_partition_key(t), t || '_default')
        LOOP
            IF m NOT IN (SELECT jowi_attached_months(t)) THEN
                action := 'attach'; parent := t; month := m;
                RETURN NEXT;
            END IF;
        END LOOP;
        FOR i IN -1..months_ahead LOOP
            m := (this_month + make_interval(months => i))::date;
            IF m NOT IN (SELECT jowi_attached_months(t)) THEN
                action := 'attach'; parent := t; month := m;
                RETURN NEXT;
            END IF;
        END LOOP;
    END LOOP;
    IF retention_months > 0 THEN
        FOREACH t IN ARRAY ARRAY['receipts', 'receipt_items', 'payments', 'stock_movements'] LOOP
            FOR m IN SELECT a FROM jowi_attached_months(t) a
                      WHERE a < this_month - make_interval(months => retention_months)
                      ORDER BY a
            LOOP
                action := 'detach'; parent := t; month := m;
                RETURN NEXT;
            END LOOP;
        END LOOP;
    END IF;
END $$;

-- Rows waiting in each default partition (a metric; 0 in a healthy system).
CREATE FUNCTION jowi_default_partition_rows()
RETURNS TABLE (parent text, row_count bigint)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['receipts', 'receipt_items', 'payments', 'stock_movements'] LOOP
        parent := t;
        EXECUTE format('SELECT count(*) FROM %I', t || '_default') INTO row_count;
        RETURN NEXT;
    END LOOP;
END $$;

-- `jowi migrate` keeps calling this: now clock-aware, and it moves rows out
-- of default partitions instead of skipping their month. Never detaches.
CREATE OR REPLACE FUNCTION jowi_ensure_partitions(months_ahead integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    step record;
    created integer := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(7220301);
    FOR step IN SELECT * FROM jowi_partition_plan(months_ahead, 0) LOOP
        PERFORM jowi_attach_month(step.parent, step.month);
        created := created + 1;
    END LOOP;
    RETURN created;
END $$;
