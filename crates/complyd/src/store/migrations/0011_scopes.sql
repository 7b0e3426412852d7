-- The tenant and parent paths the rows of tables of their own lie under (store/tables.rs), each
-- with its number: a hash of the two, which those tables' indexes lead with instead of the texts.
-- The number is unique here, so two paths can never share one unnoticed.
CREATE TABLE scope (
    tenant TEXT NOT NULL,
    parent TEXT NOT NULL,
    hash   INTEGER NOT NULL UNIQUE,
    PRIMARY KEY (tenant, parent)
) WITHOUT ROWID;
