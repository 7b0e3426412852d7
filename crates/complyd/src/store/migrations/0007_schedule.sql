-- What falls due on a tenant's clock (service/time): a grace period's end, a scheduled action's
-- instance, a device's check-in threshold. `at` is the tenant's time in Unix milliseconds. A row
-- is deleted in the write that fires it, so it fires once.
CREATE TABLE due (
    tenant TEXT NOT NULL,
    id     TEXT NOT NULL,
    at     INTEGER NOT NULL,
    device TEXT NOT NULL,
    policy TEXT NOT NULL,
    kind   TEXT NOT NULL,
    body   TEXT NOT NULL,
    PRIMARY KEY (tenant, id)
) WITHOUT ROWID;
CREATE INDEX due_at ON due (tenant, at, id);
CREATE INDEX due_subject ON due (tenant, device, policy);
