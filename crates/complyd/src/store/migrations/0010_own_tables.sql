-- Tables of their own (store/tables.rs): which collections have one, and whether their rows have
-- all been moved in from the shared table. The store creates and fills them at start.
CREATE TABLE own_table (
    collection TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    moved      INTEGER NOT NULL
) WITHOUT ROWID;
