#!/usr/bin/env python3
"""A SQLite experiment outside the server (bench/RESULTS.md, stop 33): what a device status's
update and insert cost when its four query indexes are expressions over the JSON body (as the
store builds them) against when each index reads a column of its own that an update sets only
when its value changed.

    python3 bench/index_slots.py [DIR]

Uses the `pysqlite3` module when it is installed (`pip install pysqlite3-binary`: a SQLite close
to the one complyd bundles), else Python's own. Prints CPU microseconds per restamp (a new
`lastReportedDateTime`) and per insert, twice per layout, in groups of 20 like the writer's.
"""

import json
import os
import random
import sys
import time
import uuid

try:
    import pysqlite3 as sqlite3
except ImportError:
    import sqlite3

STATUSES, POLICIES, USERS = 200_000, 100, 20_000
COLLECTION = "deviceCompliancePolicies/deviceStatuses"
INDEXED = ["status", "userPrincipalName", "lastReportedDateTime", "deviceDisplayName"]
GROUP = 20


def open_db(path, slots, fresh):
    if fresh:
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("pragma page_size=2048")
    db.execute("pragma journal_mode=wal")
    db.execute("pragma synchronous=off")  # CPU only: the sync is the same for both
    db.execute("pragma cache_size=-8192")
    if fresh:
        db.execute(
            "create table entity(seq integer primary key autoincrement, tenant text not null,"
            " collection text not null, parent text not null, id text not null,"
            " type_name text not null, body text not null, s1, s2, s3, s4)"
        )
        db.execute("create unique index entity_key on entity(id, tenant, collection, parent)")
        db.execute("create index entity_page on entity(tenant, collection, parent, seq)")
        for i, name in enumerate(INDEXED):
            value = f"s{i + 1}" if slots else f"json_extract(body, '$.{name}')"
            db.execute(
                f"create index ix_{name} on entity(tenant, parent, {value}, seq)"
                f" where collection = '{COLLECTION}'"
            )
    return db


def body(device, upn, status, reported):
    return json.dumps({
        "id": device, "deviceDisplayName": "DESKTOP-" + device[:8], "userName": "User " + upn[:6],
        "deviceModel": "Surface", "platform": 6,
        "complianceGracePeriodExpirationDateTime": "9999-12-31T23:59:59Z", "status": status,
        "lastReportedDateTime": reported, "userPrincipalName": upn,
    })


def insert(db, slots, policy, device, upn, status, reported):
    text = body(device, upn, status, reported)
    if slots:
        db.execute(
            "insert into entity(tenant, collection, parent, id, type_name, body, s1, s2, s3, s4)"
            " values('t', ?, ?, ?, 'x', ?, ?, ?, ?, ?)",
            (COLLECTION, policy, device, text, status, upn, reported, "DESKTOP-" + device[:8]),
        )
    else:
        db.execute(
            "insert into entity(tenant, collection, parent, id, type_name, body)"
            " values('t', ?, ?, ?, 'x', ?)",
            (COLLECTION, policy, device, text),
        )


def cpu_per(n, run):
    started = time.process_time()
    run()
    return (time.process_time() - started) / n * 1e6


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else "/tmp/index-slots"
    os.makedirs(folder, exist_ok=True)
    rng = random.Random(1)
    devices = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(STATUSES // POLICIES)]
    upns = [f"user{i}@contoso.com" for i in range(USERS)]
    policies = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(POLICIES)]
    states = ["compliant", "nonCompliant", "notApplicable"]
    rows = []
    for i in range(STATUSES):
        device = devices[i % len(devices)]
        policy = policies[i // len(devices)]
        rows.append((policy, device, upns[i % USERS], rng.choice(states)))
    print(f"SQLite {sqlite3.sqlite_version}, {len(rows)} statuses over {POLICIES} policies")

    for slots in (False, True):
        db = open_db(f"{folder}/{int(slots)}.db", slots, fresh=True)
        db.execute("begin")
        for policy, device, upn, status in rows:
            insert(db, slots, policy, device, upn, status, "2026-12-01T10:00:00Z")
        db.execute("commit")
        db.close()

    def restamps(db, slots, seed, n=20_000):
        r = random.Random(seed)
        sample = [rows[r.randrange(len(rows))] for _ in range(n)]
        for g in range(0, n, GROUP):
            db.execute("begin")
            for policy, device, upn, status in sample[g:g + GROUP]:
                reported = "2026-12-01T11:%02d:%02dZ" % (r.randrange(60), r.randrange(60))
                text = body(device, upn, status, reported)
                where = "where tenant = 't' and collection = ? and parent = ? and id = ?"
                if slots:
                    db.execute(f"update entity set body = ?, s3 = ? {where}",
                               (text, reported, COLLECTION, policy, device))
                else:
                    db.execute(f"update entity set body = ? {where}",
                               (text, COLLECTION, policy, device))
            db.execute("commit")

    def inserts(db, slots, seed, n=20_000):
        r = random.Random(seed)
        for g in range(0, n, GROUP):
            db.execute("begin")
            for _ in range(GROUP):
                device = str(uuid.UUID(int=r.getrandbits(128)))
                insert(db, slots, policies[r.randrange(POLICIES)], device,
                       upns[r.randrange(USERS)], r.choice(states), "2026-12-01T12:00:00Z")
            db.execute("commit")

    for what, work in (("restamp", restamps), ("insert", inserts)):
        for round_ in range(2):
            for slots in (False, True):
                db = open_db(f"{folder}/{int(slots)}.db", slots, fresh=False)
                us = cpu_per(20_000, lambda: work(db, slots, 10_000 + 100 * round_ + slots))
                db.execute("pragma wal_checkpoint(truncate)")
                db.close()
                layout = "slot columns" if slots else "expressions "
                print(f"{what:8} {layout} round {round_ + 1}: {us:6.1f} us CPU each")


if __name__ == "__main__":
    main()
