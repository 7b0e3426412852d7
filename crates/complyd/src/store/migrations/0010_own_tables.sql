-- Tables of their own (store/tables.rs): which collections have one, and whether their rows have
-- all been moved in from the shared table. The store creates and fills them at start.
CREATE TABLE own_table (
    collection TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    moved      INTEGER NOT NULL
) WITHOUT ROWID;
-- A number for each tenant and parent path the rows of those tables lie under: their indexes
-- lead with it instead of the two texts. A number is never reused (rows are never deleted here).
CREATE TABLE scope (
    id     INTEGER PRIMARY KEY,
    tenant TEXT NOT NULL,
    parent TEXT NOT NULL,
    UNIQUE (tenant, parent)
);
