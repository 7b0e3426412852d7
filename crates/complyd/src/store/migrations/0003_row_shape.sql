-- 1 when `body` holds the entity in its stored canonical shape (every property, model order,
-- defaults filled: what /beta shows), so that reads may answer it without re-projecting.
ALTER TABLE entity ADD COLUMN shape INTEGER NOT NULL DEFAULT 0;
