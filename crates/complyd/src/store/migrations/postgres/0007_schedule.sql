-- What falls due on a tenant's clock (service/time); as SQLite's 0007_schedule.sql.
CREATE TABLE due (
    tenant TEXT COLLATE "C" NOT NULL,
    id     TEXT COLLATE "C" NOT NULL,
    at     BIGINT NOT NULL,
    device TEXT COLLATE "C" NOT NULL,
    policy TEXT COLLATE "C" NOT NULL,
    kind   TEXT COLLATE "C" NOT NULL,
    body   TEXT NOT NULL,
    PRIMARY KEY (tenant, id)
);
CREATE INDEX due_at ON due (tenant, at, id);
CREATE INDEX due_subject ON due (tenant, device, policy);
