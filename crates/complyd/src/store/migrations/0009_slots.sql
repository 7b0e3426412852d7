-- Slot columns (store/slots.rs): the values SQLite's generated indexes order by, written beside
-- the body so that an update rewrites only the index entries whose values changed. No declared
-- type: a slot keeps each value exactly as the expression it stands for gave it.
ALTER TABLE entity ADD COLUMN k0;
ALTER TABLE entity ADD COLUMN k1;
ALTER TABLE entity ADD COLUMN k2;
ALTER TABLE entity ADD COLUMN k3;
ALTER TABLE entity ADD COLUMN k4;
ALTER TABLE entity ADD COLUMN k5;
ALTER TABLE entity ADD COLUMN k6;
ALTER TABLE entity ADD COLUMN k7;
