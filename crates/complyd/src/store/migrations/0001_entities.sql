-- Every entity of every tenant, in one table. `collection` is the navigation path from the root
-- (e.g. deviceCompliancePolicies/assignments), `parent` the keys of the containing entities
-- joined by '/'. `seq` orders a collection and drives keyset paging.
CREATE TABLE entity (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant     TEXT NOT NULL,
    collection TEXT NOT NULL,
    parent     TEXT NOT NULL,
    id         TEXT NOT NULL,
    type_name  TEXT NOT NULL,
    body       TEXT NOT NULL
);
CREATE UNIQUE INDEX entity_key ON entity (tenant, collection, parent, id);
CREATE INDEX entity_page ON entity (tenant, collection, parent, seq);
