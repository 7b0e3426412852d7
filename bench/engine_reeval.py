#!/usr/bin/env python3
"""Measurement (b) of bench/engine.sh: one PATCH of a policy assigned to all devices, then the time
until GET /complyd/v1/engine answers not pending (polled every 20 ms), then a check that the
reports are right: the policy's deviceStatuses, counted by status with $count, and its
deviceStatusOverview equal what POST /complyd/v1/policies/evaluate (a from-scratch evaluation of
the patched policy over every device, nothing stored) finds. Prints one JSON line.

    engine_reeval.py URL TOKEN POLICY_ID MIN_LENGTH
"""
import json
import sys
import time

import requests

BETA = "/beta/deviceManagement/deviceCompliancePolicies"
STATUS = {"compliant": "compliant", "nonCompliant": "nonCompliant",
          "inGracePeriod": "nonCompliant", "notApplicable": "notApplicable", "error": "error"}
OVERVIEW = {"compliant": "successCount", "nonCompliant": "failedCount",
            "notApplicable": "notApplicableCount", "error": "errorCount"}


def main():
    url, token, policy, length = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {token}"

    def ok(r):
        if r.status_code >= 300:
            sys.exit(f"{r.request.method} {r.url} answered {r.status_code}: {r.text[:400]}")
        return r.json() if r.content else None

    started = time.monotonic()
    ok(s.patch(f"{url}{BETA}/{policy}", json={
        "@odata.type": "#microsoft.graph.windows10CompliancePolicy",
        "passwordMinimumLength": length}))
    answered = time.monotonic() - started
    polls = 0
    while ok(s.get(f"{url}/complyd/v1/engine"))["pending"]:
        polls += 1
        time.sleep(0.02)
    settled = time.monotonic() - started

    body = ok(s.get(f"{url}{BETA}/{policy}"))
    body.pop("id", None)
    for k in [k for k in body if k.startswith("@odata.") and k != "@odata.type"]:
        body.pop(k)
    for k in ("createdDateTime", "lastModifiedDateTime", "version"):
        body.pop(k, None)
    body["scheduledActionsForRule"] = [{"ruleName": "PasswordRequired", "scheduledActionConfigurations": [
        {"actionType": "block", "gracePeriodHours": 0}]}]
    expected = ok(s.post(f"{url}/complyd/v1/policies/evaluate", json=body))
    stored, wrong = {status: 0 for status in map(STATUS.get, expected["states"])}, []
    for status in stored:
        q = f"$filter=status eq '{status}'&$count=true&$top=1"
        stored[status] = ok(s.get(f"{url}{BETA}/{policy}/deviceStatuses?{q}"))["@odata.count"]
    want = {}
    for state, n in expected["states"].items():
        want[STATUS[state]] = want.get(STATUS[state], 0) + n
    if want != stored:
        wrong.append(f"deviceStatuses by status {stored} != evaluated {want}")
    overview = ok(s.get(f"{url}{BETA}/{policy}/deviceStatusOverview"))
    for status, field in OVERVIEW.items():
        if overview.get(field, 0) != want.get(status, 0):
            wrong.append(f"overview {field} {overview.get(field)} != {want.get(status, 0)}")
    print(json.dumps({"patch_answered_s": round(answered, 3), "settled_s": round(settled, 3),
                      "polls": polls, "devices_reached": expected["devicesReached"],
                      "states": want, "reports_right": not wrong, "wrong": wrong}))
    if wrong:
        sys.exit(1)


if __name__ == "__main__":
    main()
