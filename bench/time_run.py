#!/usr/bin/env python3
"""The time benchmark's tenant and measurements, over HTTP (bench/time.sh runs it).

    time_run.py setup URL TOKEN WORK    # frozen clock, check-in threshold 120 days, a template,
                                        # one policy per platform (a fifth of devices fail it)
                                        # with three actions, assigned to all devices
    time_run.py measure URL TOKEN WORK  # empty advances, then one advance of 30 days; checks the
                                        # reports; prints JSON
"""
import json
import statistics
import sys
import time

import requests

BETA = "/beta/deviceManagement"


def call(s, url, method, path, body=None, expect=(200, 201, 204)):
    r = s.request(method, url + path, json=body, timeout=3600)
    if r.status_code not in expect:
        sys.exit(f"{method} {path} answered {r.status_code}: {r.text[:400]}")
    return r.json() if r.content else None


# Passwords of fleet devices are 4-15 characters when set (93%): a minimum of 6 fails about a fifth.
POLICIES = [
    {"@odata.type": "#microsoft.graph.windows10CompliancePolicy", "displayName": "Windows passwords",
     "passwordRequired": True, "passwordMinimumLength": 6},
    {"@odata.type": "#microsoft.graph.iosCompliancePolicy", "displayName": "iOS passcodes",
     "passcodeRequired": True, "passcodeMinimumLength": 6},
    {"@odata.type": "#microsoft.graph.androidWorkProfileCompliancePolicy",
     "displayName": "Android passwords", "passwordRequired": True, "passwordMinimumLength": 6},
    {"@odata.type": "#microsoft.graph.macOSCompliancePolicy", "displayName": "macOS passwords",
     "passwordRequired": True, "passwordMinimumLength": 6},
]


def setup(url, token, work):
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {token}"
    call(s, url, "POST", "/complyd/v1/clock", {"setTo": "2031-01-01T00:00:00Z", "freeze": True})
    call(s, url, "PATCH", BETA, {"settings": {"deviceComplianceCheckinThresholdDays": 120}})
    template = call(s, url, "POST", f"{BETA}/notificationMessageTemplates", {
        "displayName": "Noncompliance",
        "localizedNotificationMessages": [{"locale": "en-us", "isDefault": True,
                                           "subject": "Fix {{DeviceName}}",
                                           "messageTemplate": "Hello {{UserName}}"}]})["id"]
    actions = [{"actionType": "block", "gracePeriodHours": 0},
               {"actionType": "notification", "gracePeriodHours": 24,
                "notificationTemplateId": template},
               {"actionType": "notification", "gracePeriodHours": 72,
                "notificationTemplateId": template},
               {"actionType": "retire", "gracePeriodHours": 168}]
    ids = []
    for body in POLICIES:
        body = dict(body, scheduledActionsForRule=[
            {"ruleName": "PasswordRequired", "scheduledActionConfigurations": actions}])
        pid = call(s, url, "POST", f"{BETA}/deviceCompliancePolicies", body)["id"]
        call(s, url, "POST", f"{BETA}/deviceCompliancePolicies/{pid}/assign", {"assignments": [
            {"target": {"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget"}}]})
        ids.append(pid)
    open(f"{work}/policies.txt", "w").write("\n".join(ids) + "\n")


def advance(s, url, by):
    t0 = time.perf_counter()
    answer = call(s, url, "POST", "/complyd/v1/clock", {"advanceBy": by})
    return time.perf_counter() - t0, answer


def empty_advances(s, url, n, warm_up=20):
    for _ in range(warm_up):
        advance(s, url, "PT1S")
    took = []
    for _ in range(n):
        t, answer = advance(s, url, "PT1S")
        if answer["firedCount"]:
            sys.exit(f"an empty advance fired {answer['firedCount']}")
        took.append(t * 1000)
    took.sort()
    return {"n": n, "warm_up": warm_up, "p50_ms": round(statistics.median(took), 2),
            "p99_ms": round(took[min(n - 1, int(n * 0.99))], 2), "max_ms": round(took[-1], 2)}


def outbox_count(s, url):
    n, skip = 0, 0
    while True:
        page = call(s, url, "GET", f"/complyd/v1/outbox?$top=1000&$skip={skip}")["value"]
        n += len(page)
        skip += len(page)
        if len(page) < 1000:
            return n


def measure(url, token, work):
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {token}"
    summary = call(s, url, "GET", f"{BETA}/deviceCompliancePolicyDeviceStateSummary")
    noncompliant = summary["nonCompliantDeviceCount"]
    before = call(s, url, "GET", "/complyd/v1/clock")
    empty_before = empty_advances(s, url, 200)
    took, answer = advance(s, url, "P30D")
    after = call(s, url, "GET", "/complyd/v1/clock")
    empty_after = empty_advances(s, url, 200)
    summary_after = call(s, url, "GET", f"{BETA}/deviceCompliancePolicyDeviceStateSummary")
    retire = call(s, url, "GET", f"{BETA}/deviceCompliancePolicies/getDevicesScheduledToRetire()")
    mails = outbox_count(s, url)
    fired = answer["firedCount"]
    checks = {
        "three_items_per_noncompliant_device": fired == 3 * noncompliant,
        "verdicts_unchanged": summary_after["nonCompliantDeviceCount"] == noncompliant,
        "retire_list_full": len(retire["value"]) == min(noncompliant, 10_000),
        "nothing_due_within_the_month": after["nextDueDateTime"] > after["now"],
        "emails_at_most_two_per_device": mails <= 2 * noncompliant,
    }
    print(json.dumps({
        "noncompliant_devices": noncompliant, "pending_before": before["pendingCount"],
        "pending_after": after["pendingCount"], "advance_30d_s": round(took, 2),
        "fired": fired, "emails": mails, "retire_listed": len(retire["value"]),
        "empty_advance_before": empty_before, "empty_advance_after": empty_after,
        "checks": checks, "reports_right": all(checks.values())}, indent=2))


if __name__ == "__main__":
    what, url, token, work = sys.argv[1:5]
    {"setup": setup, "measure": measure}[what](url, token, work)
