-- The PostgreSQL schema: the same single entity table as SQLite. Keys and paths compare
-- byte-wise (COLLATE "C"), as in SQLite, so ordering and paging agree across stores. Bodies are
-- `json` (kept as written, in the stored order), not `jsonb`.
CREATE TABLE entity (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant     TEXT COLLATE "C" NOT NULL,
    collection TEXT COLLATE "C" NOT NULL,
    parent     TEXT COLLATE "C" NOT NULL,
    id         TEXT COLLATE "C" NOT NULL,
    type_name  TEXT COLLATE "C" NOT NULL,
    body       JSON NOT NULL,
    shape      INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX entity_key ON entity (tenant, collection, parent, id);
CREATE INDEX entity_page ON entity (tenant, collection, parent, seq);

-- A DateTimeOffset's instant in 100 ns ticks since 0001-01-01, exactly (7 digits, any offset).
-- IMMUTABLE: the input always carries its own offset, so the session time zone plays no part.
CREATE FUNCTION dto_ticks(t text) RETURNS bigint LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE WHEN t ~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,7})?(Z|[+-]\d\d:\d\d)$' THEN
        (extract(epoch FROM (substr(t, 1, 19)
            || CASE WHEN right(t, 1) = 'Z' THEN '+00:00' ELSE right(t, 6) END)::timestamptz))::bigint * 10000000
        + COALESCE(rpad(substring(t FROM '\.(\d{1,7})'), 7, '0')::bigint, 0)
        + 621355968000000000
    END
$$;

-- One field of a DateTimeOffset in its own offset (year, month, day, hour, minute, second).
CREATE FUNCTION dto_part(t text, part text) RETURNS bigint LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE WHEN t ~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d' THEN
        floor(date_part(part, substr(t, 1, 19)::timestamp))::bigint
    END
$$;

CREATE INDEX entity_status_status ON entity
    (tenant, parent, ((body->>'status') COLLATE "C"), seq)
    WHERE collection = 'deviceCompliancePolicies/deviceStatuses';
CREATE INDEX entity_status_upn ON entity
    (tenant, parent, ((body->>'userPrincipalName') COLLATE "C"), seq)
    WHERE collection = 'deviceCompliancePolicies/deviceStatuses';
CREATE INDEX entity_status_reported ON entity
    (tenant, parent, dto_ticks((body->>'lastReportedDateTime') COLLATE "C"), seq)
    WHERE collection = 'deviceCompliancePolicies/deviceStatuses';
CREATE INDEX entity_policy_name ON entity
    (tenant, parent, ((body->>'displayName') COLLATE "C"), seq)
    WHERE collection = 'deviceCompliancePolicies';
CREATE INDEX entity_policy_modified ON entity
    (tenant, parent, dto_ticks((body->>'lastModifiedDateTime') COLLATE "C"), seq)
    WHERE collection = 'deviceCompliancePolicies';
