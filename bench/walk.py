#!/usr/bin/env python3
"""Walks every page of one policy's device statuses with $top=999 (issue 5's figure), a few
times; prints the median wall time in ms and the number of items, as JSON. Standard library only."""
import json
import statistics
import sys
import time
import urllib.request

base, token, policy, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 5


def walk():
    url = f"{base}/beta/deviceManagement/deviceCompliancePolicies/{policy}/deviceStatuses?%24top=999"
    items = pages = 0
    started = time.perf_counter()
    while url and pages < 10_000:
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            page = json.load(response)
        items += len(page["value"])
        pages += 1
        url = page.get("@odata.nextLink")
    return (time.perf_counter() - started) * 1000, items, pages


results = [walk() for _ in range(runs)]
print(json.dumps({"walk_ms_median": round(statistics.median(r[0] for r in results), 1),
                  "walk_ms_all": [round(r[0], 1) for r in results],
                  "items": results[0][1], "pages": results[0][2]}))
