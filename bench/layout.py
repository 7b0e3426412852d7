#!/usr/bin/env python3
"""What a W2 create's rows and a check-in's restamps cost SQLite, shipped and in leaner layouts.

Outside the server: the SQL the writer thread runs for one device status create (the status row
and its audit event, with their index entries and counts), replayed from Python over five
layouts of a fresh database, in groups of 32 per transaction as the writer commits them. Then
restamps of random statuses (read the stored slot, rewrite the body with a new report time and
move that one index entry), a check-in's commonest row write, 108 to a transaction. The sync is
left out (complyd syncs off the writer thread), so each figure is the writer's CPU in SQLite,
plus a constant of Python's own that the `python` line measures (per two statements).

  S  shipped: every collection in one `entity` table (its indexes and count triggers as a fresh
     complyd folder has them, read from DB)
  K  S, with tenant and parent as short texts (what interning them in `entity` would give)
  T  a table per collection, text keys as shipped, each with only its own indexes and insert
     triggers
  I  T, with integer tenant and parent (interned) and the count kept by the writer's own upsert
  M  the two rows alone: I's tables without an index or a count (what no layout goes under)

  bench/layout.py /path/to/complyd.db [PREFILL] [MEASURED] [ROUNDS] [W2|W1]    # 100000 50000 3 W2

W1 replays an action item create instead (the item under one rule, no index of its own, and its
audit event); it has no restamps.

Each round runs every layout once, in turn, on a new database; the figure is the median over
rounds (this VM drifts by 10-20% within minutes).

DB: the complyd.db of a new folder (`complyd serve --data DIR`, stopped once it listens), read
for its schema. The event body is an audit event as the server writes it
(bench/layout_event.json). Results: bench/RESULTS.md, stop 55.
"""

import json
import os
import random
import sys
import tempfile
import time

try:  # a current SQLite when installed (pip install pysqlite3-binary), else Python's own
    import pysqlite3 as sqlite3  # type: ignore
except ImportError:
    import sqlite3

STATUSES = "deviceCompliancePolicies/deviceStatuses"
ITEMS = "deviceCompliancePolicies/scheduledActionsForRule/scheduledActionConfigurations"
ITEM_BODY = ('{"gracePeriodHours":0,"actionType":"notification","notificationTemplateId":'
             '"Notification Template Id value","notificationMessageCCList":["Notification Message CCList value"]}')
EVENTS = "auditEvents"
GROUP = 32
CHECK_IN_ROWS = 27  # rows a check-in rewrote at stop 31 (25 at stop 55); restamps commit 4 check-ins' worth
POLICIES = 100


def status_body():
    return json.dumps(
        {
            "id": "",
            "deviceDisplayName": "Device Display Name value",
            "userName": "User Name value",
            "deviceModel": "Device Model value",
            "platform": 7,
            "complianceGracePeriodExpirationDateTime": "2016-12-31T23:58:46.7156189-08:00",
            "status": "notApplicable",
            "lastReportedDateTime": "2017-01-01T00:00:17.7769392-08:00",
            "userPrincipalName": "User Principal Name value",
        },
        separators=(",", ":"),
    )


def ids(n):
    """Time-ordered ids, as the server makes them."""
    rnd = random.Random(7)
    return ["%08x-%04x-7%03x-%04x-%012x" % (0x01A24400 + i // 65536, i % 65536, rnd.getrandbits(12),
                                             0x8000 | rnd.getrandbits(14), rnd.getrandbits(48))
            for i in range(n)]


def connect(path):
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in ("page_size=2048", "journal_mode=wal", "synchronous=off", "cache_size=-262144"):
        conn.execute("PRAGMA " + pragma)
    # Stand-ins for complyd's functions: the same call on every layout, so they cancel out.
    conn.create_function("complyd_unpack", 1, lambda b: b, deterministic=True)
    conn.create_function("dto_ticks", 1, lambda t: len(t or ""), deterministic=True)
    return conn


def shipped_schema(db):
    src = sqlite3.connect(db)
    rows = src.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' "
        "ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'index' THEN 1 ELSE 2 END"
    ).fetchall()
    return [sql for _, _, sql in rows]


def own_tables(shipped):
    """T: the statuses' and events' rows in tables of their own, with their own indexes."""
    table = next(s for s in shipped if s.startswith("CREATE TABLE entity ("))
    out = [s for s in shipped if s.startswith("CREATE TABLE entity_count")]
    for name, collection in (("statuses", STATUSES), ("events", EVENTS), ("items", ITEMS)):
        out.append(table.replace("CREATE TABLE entity (", f"CREATE TABLE {name} ("))
        out.append(f"CREATE UNIQUE INDEX {name}_key ON {name} (id, tenant, collection, parent)")
        out.append(f"CREATE INDEX {name}_page ON {name} (tenant, collection, parent, seq)")
        for s in shipped:
            if f"WHERE collection = '{collection}'" in s and s.startswith("CREATE INDEX"):
                s = s.replace(" ON entity ", f" ON {name} ").replace(f" WHERE collection = '{collection}'", "")
                out.append(s.replace("CREATE INDEX model_", f"CREATE INDEX {name}_"))
            if s.startswith("CREATE TRIGGER") and f"NEW.collection = '{collection}'" in s and "AFTER INSERT" in s:
                out.append(s.replace(" ON entity ", f" ON {name} ").replace("TRIGGER model_", f"TRIGGER {name}_"))
    return out


INTEGER_TABLES = [
    "CREATE TABLE statuses (seq INTEGER PRIMARY KEY AUTOINCREMENT, tenant INTEGER NOT NULL, "
    "parent INTEGER NOT NULL, id TEXT NOT NULL, type_name TEXT NOT NULL, body NOT NULL, "
    "shape INTEGER NOT NULL DEFAULT 0, k0, k1, k2, k3)",
    "CREATE UNIQUE INDEX statuses_key ON statuses (id)",
    "CREATE INDEX statuses_page ON statuses (tenant, parent, seq)",
    "CREATE INDEX statuses_k0 ON statuses (tenant, parent, k0, seq)",
    "CREATE INDEX statuses_k1 ON statuses (tenant, parent, k1, seq)",
    "CREATE INDEX statuses_k2 ON statuses (tenant, parent, k2, seq)",
    "CREATE INDEX statuses_k3 ON statuses (tenant, parent, k3, seq)",
    "CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, tenant INTEGER NOT NULL, "
    "parent INTEGER NOT NULL, id TEXT NOT NULL, type_name TEXT NOT NULL, body NOT NULL, "
    "shape INTEGER NOT NULL DEFAULT 0, k0, k1)",
    "CREATE UNIQUE INDEX events_key ON events (id)",
    "CREATE INDEX events_page ON events (tenant, parent, seq)",
    "CREATE INDEX events_k0 ON events (tenant, parent, k0, seq)",
    "CREATE INDEX events_k1 ON events (tenant, parent, k1, seq)",
    "CREATE TABLE items (seq INTEGER PRIMARY KEY AUTOINCREMENT, tenant INTEGER NOT NULL, "
    "parent INTEGER NOT NULL, id TEXT NOT NULL, type_name TEXT NOT NULL, body NOT NULL, "
    "shape INTEGER NOT NULL DEFAULT 0)",
    "CREATE UNIQUE INDEX items_key ON items (id)",
    "CREATE INDEX items_page ON items (tenant, parent, seq)",
    "CREATE TABLE counts (tenant INTEGER NOT NULL, parent INTEGER NOT NULL, property INTEGER NOT NULL, "
    "value TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (tenant, parent, property, value)) WITHOUT ROWID",
]

STATUS_SLOTS = ("json_extract({b}, '$.deviceDisplayName'), json_extract({b}, '$.status'), "
                "dto_ticks(json_extract({b}, '$.lastReportedDateTime')), json_extract({b}, '$.userPrincipalName')")
EVENT_SLOTS = "dto_ticks(json_extract({b}, '$.activityDateTime')), json_extract({b}, '$.category')"


BARE_TABLES = [s for s in INTEGER_TABLES if s.startswith("CREATE TABLE") and "counts" not in s]


def text_statements(status_table, event_table):
    restamp = (
        f"SELECT seq, k2, dto_ticks(json_extract(?4, '$.lastReportedDateTime')) FROM {status_table} "
        f"WHERE tenant = ?1 AND collection = '{STATUSES}' AND parent = ?2 AND id = ?3",
        f"UPDATE {status_table} SET body = ?2, shape = 1, k2 = ?3 WHERE seq = ?1",
    )
    return (
        f"INSERT INTO {status_table} (tenant, collection, parent, id, type_name, body, shape, k0, k1, k2, k3) "
        f"VALUES (?1, '{STATUSES}', ?2, ?3, '#microsoft.graph.deviceComplianceDeviceStatus', ?4, 1, "
        + STATUS_SLOTS.format(b="?4") + ")",
        f"INSERT INTO {event_table} (tenant, collection, parent, id, type_name, body, shape, k0, k1) "
        f"VALUES (?1, '{EVENTS}', '', ?2, '#microsoft.graph.auditEvent', ?3, 1, "
        + EVENT_SLOTS.format(b="?4") + ")",
        [],
        restamp,
    )


def item_statements(item_table, event_table):
    """W1: an action item (one rule's, no index of its own) and its audit event; no restamps."""
    _, event_sql, _, _ = text_statements(item_table, event_table)
    return (
        f"INSERT INTO {item_table} (tenant, collection, parent, id, type_name, body, shape) "
        f"VALUES (?1, '{ITEMS}', ?2, ?3, 'microsoft.graph.deviceComplianceActionItem', ?4, 1)",
        event_sql,
        [],
        None,
    )


def integer_item_statements():
    _, event_sql, _, _ = integer_statements()
    return (
        "INSERT INTO items (tenant, parent, id, type_name, body, shape) "
        "VALUES (?1, ?2, ?3, 'microsoft.graph.deviceComplianceActionItem', ?4, 1)",
        event_sql,
        [],
        None,
    )


def integer_statements():
    restamp = (
        "SELECT seq, k2, dto_ticks(json_extract(?4, '$.lastReportedDateTime')) FROM statuses "
        "WHERE id = ?3 AND tenant = ?1 AND parent = ?2",
        "UPDATE statuses SET body = ?2, shape = 1, k2 = ?3 WHERE seq = ?1",
    )
    return (
        "INSERT INTO statuses (tenant, parent, id, type_name, body, shape, k0, k1, k2, k3) "
        "VALUES (?1, ?2, ?3, '#microsoft.graph.deviceComplianceDeviceStatus', ?4, 1, "
        + STATUS_SLOTS.format(b="?4") + ")",
        "INSERT INTO events (tenant, parent, id, type_name, body, shape, k0, k1) "
        "VALUES (?1, 0, ?2, '#microsoft.graph.auditEvent', ?3, 1, " + EVENT_SLOTS.format(b="?4") + ")",
        ["INSERT INTO counts (tenant, parent, property, value, n) VALUES (?1, ?2, 1, ?3, 1) "
         "ON CONFLICT (tenant, parent, property, value) DO UPDATE SET n = n + 1"],
        restamp,
    )


def run(schema, statements, keys, n_prefill, n_measured, event, workload="W2"):
    """µs per create, µs per restamp (None for W1 or without a key index) and the file's size."""
    with tempfile.TemporaryDirectory() as folder:
        conn = connect(os.path.join(folder, "layout.db"))
        for sql in schema:
            conn.execute(sql)
        status_sql, event_sql, extra, restamps = statements
        # W2 spreads its statuses over 100 policies; W1 posts every item to one policy's rule.
        parents = POLICIES if workload == "W2" else 1
        path = "01a244aa-8f6e-74b9-%04x-8f028773fecf" if workload == "W2" else \
            "01a244aa-8f6e-74b9-%04x-8f028773fecf/01a244bc-01f7-7239-a910-b27729072fee"
        tenant, policies = {
            "text": ("7ff00d14-72df-4891-9fe6-acdc38f7dd23", [path % p for p in range(parents)]),
            "short": ("1", [str(p) for p in range(parents)]),
            "integer": (1, list(range(parents))),
        }[keys]
        rnd = random.Random(1)
        total = n_prefill + n_measured
        row_ids = ids(2 * total)
        body = status_body() if workload == "W2" else ITEM_BODY
        packed = event.encode()[: 330]  # a packed event's size; its bytes do not matter to SQLite
        placed = []

        def create(i):
            policy = policies[rnd.randrange(parents)]
            placed.append(policy)
            conn.execute(status_sql, (tenant, policy, row_ids[2 * i], body))
            conn.execute(event_sql, (tenant, row_ids[2 * i + 1], packed, event))
            for sql in extra:
                conn.execute(sql, (tenant, policy, "notApplicable"))

        def restamp(i):
            """A check-in's commonest row write: a status rewritten with a new report time."""
            j = rnd.randrange(total)
            new = body.replace("2017-01-01T00:00:17", "2026-12-05T%02d:%02d:%02d" % (i // 3600 % 24, i // 60 % 60, i % 60))
            stored_sql, restamp_sql = restamps
            seq, held, stamped = conn.execute(stored_sql, (tenant, placed[j], row_ids[2 * j], new)).fetchone()
            conn.execute(restamp_sql, (seq, new, stamped))

        def batch(write, start, end, group):
            began = time.perf_counter()
            for g in range(start, end, group):
                conn.execute("BEGIN IMMEDIATE")
                for i in range(g, min(g + group, end)):
                    write(i)
                conn.execute("COMMIT")
            return time.perf_counter() - began

        batch(create, 0, n_prefill, GROUP)
        took = batch(create, n_prefill, total, GROUP)
        size = conn.execute("PRAGMA page_count").fetchone()[0] * 2048
        has_key = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'index'").fetchone()[0] > 0
        restamped = None
        if has_key and restamps:
            restamped = batch(restamp, 0, n_measured, CHECK_IN_ROWS * 4) / n_measured * 1e6
        conn.close()
    return took / n_measured * 1e6, restamped, size


def python_alone(n):
    conn = connect(":memory:")
    body, began = status_body(), time.perf_counter()
    for g in range(0, n, GROUP):
        conn.execute("BEGIN")
        for _ in range(GROUP):
            conn.execute("SELECT ?1, ?2, ?3, ?4", (1, 2, 3, body))
            conn.execute("SELECT ?1, ?2, ?3, ?4", (1, 2, 3, body))
        conn.execute("COMMIT")
    return (time.perf_counter() - began) / n * 1e6


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    db = sys.argv[1]
    prefill = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    measured = int(sys.argv[3]) if len(sys.argv) > 3 else 50_000
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "layout_event.json")) as f:
        event = f.read().strip()
    print(f"SQLite {sqlite3.sqlite_version}; {prefill:,} creates, then {measured:,} measured; "
          f"groups of {GROUP}; {POLICIES} policies")
    print(f"{'python, before: two statements that touch nothing':<62} {python_alone(measured):7.1f} µs per create")
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    workload = sys.argv[5] if len(sys.argv) > 5 else "W2"
    shipped = shipped_schema(db)
    if workload == "W2":
        text, table, lean = text_statements, "statuses", integer_statements()
    elif workload == "W1":
        text, table, lean = item_statements, "items", integer_item_statements()
    else:
        sys.exit(f"unknown workload {workload}: W1 or W2")
    print(f"{workload}: {'a device status' if workload == 'W2' else 'an action item'} and its audit event per create")
    layouts = [
        ("S  shipped: one entity table", shipped, text("entity", "entity"), "text"),
        ("K  S, with tenant and parent short texts (interned)", shipped, text("entity", "entity"), "short"),
        ("T  a table per collection, text keys", own_tables(shipped), text(table, "events"), "text"),
        ("I  a table per collection, integer keys, the writer's count", INTEGER_TABLES, lean, "integer"),
        ("M  the two rows alone, no index, no count", BARE_TABLES, lean[:2] + ([], lean[3]), "integer"),
    ]
    figures = {label: ([], []) for label, *_ in layouts}
    for r in range(rounds):
        for label, schema, statements, keys in layouts:
            created, restamped, size = run(schema, statements, keys, prefill, measured, event, workload)
            figures[label][0].append(created)
            if restamped is not None:
                figures[label][1].append(restamped)
            shown = f"{restamped:6.1f}" if restamped is not None else "     -"
            print(f"round {r + 1}: {label:<62} {created:7.1f} µs per create, {shown} per restamp "
                  f"({size / 2**20:.0f} MiB)", flush=True)
    print(f"{'python, after: two statements that touch nothing':<62} {python_alone(measured):7.1f} µs per create")
    print(f"{'medians (range)':<62} {'per create':>22} {'per restamp':>22}")
    for label, (created, restamped) in figures.items():
        print(f"{label:<62} {median(created):>22} {median(restamped):>22}")


def median(values):
    if not values:
        return "-"
    values = sorted(values)
    return f"{values[len(values) // 2]:.1f} ({values[0]:.1f}-{values[-1]:.1f})"


if __name__ == "__main__":
    main()
