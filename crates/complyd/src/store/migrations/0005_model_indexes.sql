-- Query indexes are generated from the model now (`index` on a property; store/indexes.rs), named
-- model_index_…, and created or dropped at every start. The hand-written ones of migration 2
-- (PostgreSQL: of its migration 1) go; PostgreSQL runs the same statements as its migration 3.
DROP INDEX IF EXISTS entity_status_status;
DROP INDEX IF EXISTS entity_status_upn;
DROP INDEX IF EXISTS entity_status_reported;
DROP INDEX IF EXISTS entity_policy_name;
DROP INDEX IF EXISTS entity_policy_modified;
