-- The key index leads with the id. Ids the server makes are time-ordered, so a create appends to
-- the index's last leaf instead of dirtying one leaf per parent collection (a device status
-- create under one of 100 policies wrote one more page per row). A lookup by key names every
-- column, so it finds its row as before; the scans of one collection (paging, deletes) use
-- entity_page, which starts with the same three columns the old key index did. PostgreSQL runs
-- the same statements as its migration 2.
DROP INDEX entity_key;
CREATE UNIQUE INDEX entity_key ON entity (id, tenant, collection, parent);
