#!/usr/bin/env python3
"""Aggregates bench/postgres.sh's wrk runs (one instance, two instances on one PostgreSQL): prints a
table and writes the JSON results (stdlib only)."""

import argparse
import datetime
import json
import statistics

from report import WORKLOADS, commit, machine

MIB = 1024 * 1024


def setup_round(wrks):
    """One round of one setup: the wrk processes ran at once, so their requests/s add up; the
    latencies are the worse process's. wrk times only the requests answered within the run, so a
    process that got no answer at all has no latencies (wrk prints 0): the round is "stalled"."""
    timed = [r for r in wrks if r["requests"]] if all(r["requests"] for r in wrks) else []

    def worst(key):
        return max(r["latency_us"][key] for r in timed) / 1000 if timed else None

    return {
        "rps": sum(r["requests"] / (r["duration_us"] / 1e6) for r in wrks),
        "stalled": not timed,
        "p50_ms": worst("p50"),
        "p99_ms": worst("p99"),
        "max_ms": worst("max"),
        "requests": sum(r["requests"] for r in wrks),
        "errors": sum(sum(r["errors"].values()) for r in wrks),
        "per_instance_rps": [round(r["requests"] / (r["duration_us"] / 1e6), 1) for r in wrks],
    }


def summarise(rounds):
    """Means over rounds; latencies over the rounds that have them (see setup_round)."""
    timed = [r for r in rounds if not r["stalled"]]

    def mean(key):
        return statistics.mean(r[key] for r in timed) if timed else None

    return {
        "rps": statistics.mean(r["rps"] for r in rounds),
        "rps_rounds": [round(r["rps"], 1) for r in rounds],
        "stalled_rounds": len(rounds) - len(timed),
        "p50_ms": mean("p50_ms"),
        "p99_ms": mean("p99_ms"),
        "max_ms": max(r["max_ms"] for r in timed) if timed else None,
        "requests": sum(r["requests"] for r in rounds),
        "errors": sum(r["errors"] for r in rounds),
        "per_instance_rps_rounds": [r["per_instance_rps"] for r in rounds],
        # How long the database took to fall idle before each round (see postgres.sh's settle).
        "settled_s_rounds": [r["settled_s"] for r in rounds],
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", required=True)
    ap.add_argument("--statuses", type=int, required=True)
    ap.add_argument("--duration", required=True)
    ap.add_argument("--rounds", type=int, required=True)
    ap.add_argument("--postgres-version", required=True)
    ap.add_argument("--peak-rss-kib", required=True, help="a=KIB,b=KIB")
    ap.add_argument("--seeded-bytes", type=int, required=True)
    ap.add_argument("--final-bytes", type=int, required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    by = {}
    with open(a.runs) as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                one_round = setup_round(r["wrk"])
                one_round["settled_s"] = r.get("settled_s")
                by.setdefault(r["workload"], {}).setdefault(r["setup"], []).append(one_round)

    workloads = {}
    for w, setups in sorted(by.items()):
        one, two = summarise(setups["one"]), summarise(setups["two"])
        # Each "one" round with the "two" round that ran right after it.
        pairs = [b / a for a, b in zip(one["rps_rounds"], two["rps_rounds"]) if a]
        workloads[w] = {
            "what": WORKLOADS.get(w, w),
            "one": one,
            "two": two,
            "ratio_rounds": [round(x, 3) for x in pairs],
            "ratio_median": statistics.median(pairs) if pairs else None,
        }

    rss = {k: round(int(v) / 1024, 1) for k, v in (kv.split("=") for kv in a.peak_rss_kib.split(","))}
    result = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "commit": commit(),
        "machine": machine(),
        "config": {
            "store": f"PostgreSQL {a.postgres_version}, local (scripts/pg.sh: fsync on, shared_buffers 64MB)",
            "statuses": a.statuses,
            "policies": 100,
            "duration_per_run": a.duration,
            "rounds": a.rounds,
            "order": "one, two per round per workload; before each run, wait until the database is idle",
            "one": "wrk -t2 -c32 against instance A (B running, idle)",
            "two": "wrk -t1 -c16 against A and wrk -t1 -c16 against B, at once",
        },
        "workloads": workloads,
        "complyd_peak_rss_mib": rss,
        "database_bytes": {"seeded": a.seeded_bytes, "after_run": a.final_bytes},
    }
    with open(a.out, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")

    print()
    print(f"complyd on PostgreSQL {a.postgres_version}: one instance vs two, {a.statuses:,} statuses, "
          f"32 connections, {a.rounds} x {a.duration} per setup")
    head = (f"{'':4} {'one req/s':>10} {'p50 ms':>7} {'p99 ms':>7} | {'two req/s':>10} {'p50 ms':>7} "
            f"{'p99 ms':>7} | {'two/one':>7} {'rounds':>9} {'errors':>6}")
    print(head)
    print("-" * len(head))
    def ms(x):
        return f"{x:7.2f}" if x is not None else f"{'-':>7}"

    stalled = 0
    for w, r in workloads.items():
        o, t = r["one"], r["two"]
        stalled += o["stalled_rounds"] + t["stalled_rounds"]
        mark = "*" if o["stalled_rounds"] + t["stalled_rounds"] else " "
        print(f"{w:4} {o['rps']:10.0f} {ms(o['p50_ms'])} {ms(o['p99_ms'])} | {t['rps']:10.0f} "
              f"{ms(t['p50_ms'])} {ms(t['p99_ms'])} | {r['ratio_median']:7.2f} "
              f"{min(r['ratio_rounds']):4.2f}-{max(r['ratio_rounds']):4.2f} {o['errors'] + t['errors']:6}{mark}")
    print("two: the sum of both instances' requests/s; its latencies the worse wrk process's")
    if stalled:
        print("*: in a round of this workload a wrk process got no answer at all within the run; its")
        print("   latencies are left out of the means (wrk times only the requests it got answers to)")
    print("two/one: the median over rounds, each one-instance round paired with the two-instance round after it")
    print()
    print(f"complyd peak RSS (VmHWM): A {rss['a']} MiB, B {rss['b']} MiB")
    print(f"database: {a.seeded_bytes / MIB:.1f} MiB seeded, {a.final_bytes / MIB:.1f} MiB after the run")
    print(f"\nwritten {a.out}")


if __name__ == "__main__":
    main()
