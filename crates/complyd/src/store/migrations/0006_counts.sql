-- Counts the database keeps for the model's derived overviews (store/counts.rs): how many members
-- of a collection under one parent hold each value of a property. Moved by generated triggers.
CREATE TABLE entity_count (
    tenant     TEXT NOT NULL,
    collection TEXT NOT NULL,
    parent     TEXT NOT NULL,
    property   TEXT NOT NULL,
    value      TEXT NOT NULL,
    n          INTEGER NOT NULL,
    PRIMARY KEY (tenant, collection, parent, property, value)
) WITHOUT ROWID;
