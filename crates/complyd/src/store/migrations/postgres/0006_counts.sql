-- Counts the database keeps for the model's derived overviews (store/counts.rs), as in SQLite's
-- migration 6, and the one trigger function that moves them (its argument: the property).
CREATE TABLE entity_count (
    tenant     TEXT COLLATE "C" NOT NULL,
    collection TEXT COLLATE "C" NOT NULL,
    parent     TEXT COLLATE "C" NOT NULL,
    property   TEXT COLLATE "C" NOT NULL,
    value      TEXT COLLATE "C" NOT NULL,
    n          BIGINT NOT NULL,
    PRIMARY KEY (tenant, collection, parent, property, value)
);

CREATE FUNCTION entity_count_move() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    counted text := TG_ARGV[0];
    old_value text;
    new_value text;
BEGIN
    IF TG_OP <> 'INSERT' THEN old_value := OLD.body->>counted; END IF;
    IF TG_OP <> 'DELETE' THEN new_value := NEW.body->>counted; END IF;
    IF old_value IS NOT DISTINCT FROM new_value THEN RETURN NULL; END IF;
    IF old_value IS NOT NULL THEN
        UPDATE entity_count SET n = n - 1
        WHERE tenant = OLD.tenant AND collection = OLD.collection AND parent = OLD.parent
          AND entity_count.property = counted AND value = old_value;
    END IF;
    IF new_value IS NOT NULL THEN
        INSERT INTO entity_count (tenant, collection, parent, property, value, n)
        VALUES (NEW.tenant, NEW.collection, NEW.parent, counted, new_value, 1)
        ON CONFLICT (tenant, collection, parent, property, value)
        DO UPDATE SET n = entity_count.n + 1;
    END IF;
    RETURN NULL;
END
$$;
