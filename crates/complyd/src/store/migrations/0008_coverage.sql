-- The engine now records which devices no policy covers (service/engine/coverage.rs). Devices
-- evaluated before it did are recorded at their next evaluation: every tenant with managed
-- devices is marked for one re-evaluation round (the queue's mark, service/engine/queue.rs).
INSERT INTO entity (tenant, collection, parent, id, type_name, body)
SELECT '_engine', '_reevaluate', '', t.tenant, '', '{"stamp":"migration-0008","first":0,"last":0}'
FROM (SELECT DISTINCT tenant FROM entity WHERE collection = 'managedDevices') AS t
WHERE true
ON CONFLICT (tenant, collection, parent, id) DO NOTHING;
