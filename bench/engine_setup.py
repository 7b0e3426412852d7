#!/usr/bin/env python3
"""The engine benchmark's tenant, over HTTP (bench/engine.sh runs it after `complyd fleet
generate`): static groups with members, two assignment filters and 20 compliance policies of about
ten configured settings each (Windows, iOS, macOS, Android work profile; block actions, some with
grace), assigned to all devices, all licensed users, groups, exclusion groups and filtered groups.
Writes the device ids (for the check-in load) and the policy ids (the first reaches every device)
into OUT.

    engine_setup.py URL TOKEN OUT --groups 995 --members 20
"""
import argparse
import concurrent.futures as futures
import os
import random
import sys
import threading

import requests

BETA = "/beta/deviceManagement"
local = threading.local()


def session(token):
    if not hasattr(local, "s"):
        local.s = requests.Session()
        local.s.headers["Authorization"] = f"Bearer {token}"
    return local.s


def call(args, method, path, body=None, expect=(200, 201, 204)):
    r = session(args.token).request(method, args.url + path, json=body, timeout=600)
    if r.status_code not in expect:
        sys.exit(f"{method} {path} answered {r.status_code}: {r.text[:400]}")
    return r.json() if r.content else None


def every(args, path):
    out, page = [], path
    while page:
        doc = call(args, "GET", page)
        out.extend(doc["value"])
        page = doc.get("@odata.nextLink", "").replace(args.url, "") or None
    return out


def block(grace_hours):
    return [{"ruleName": "PasswordRequired", "scheduledActionConfigurations": [
        {"actionType": "block", "gracePeriodHours": grace_hours}]}]


# ~10 configured settings per platform; each policy varies the thresholds a little.
def windows(n):
    return {"@odata.type": "#microsoft.graph.windows10CompliancePolicy",
            "passwordRequired": True, "passwordMinimumLength": 6 + n % 6,
            "passwordBlockSimple": True, "passwordMinutesOfInactivityBeforeLock": 15,
            "osMinimumVersion": "10.0.19045", "bitLockerEnabled": n % 2 == 0,
            "secureBootEnabled": True, "storageRequireEncryption": True,
            "activeFirewallRequired": True, "defenderEnabled": True,
            "deviceThreatProtectionEnabled": n % 3 == 0,
            "deviceThreatProtectionRequiredSecurityLevel": "medium"}


def ios(n):
    return {"@odata.type": "#microsoft.graph.iosCompliancePolicy",
            "passcodeRequired": True, "passcodeMinimumLength": 4 + n % 4,
            "passcodeBlockSimple": True, "passcodeMinutesOfInactivityBeforeLock": 5,
            "passcodeRequiredType": "numeric", "osMinimumVersion": "16.0",
            "securityBlockJailbrokenDevices": True, "deviceThreatProtectionEnabled": True,
            "deviceThreatProtectionRequiredSecurityLevel": "low",
            "passcodeExpirationDays": 90, "managedEmailProfileRequired": n % 2 == 1}


def macos(n):
    return {"@odata.type": "#microsoft.graph.macOSCompliancePolicy",
            "passwordRequired": True, "passwordMinimumLength": 8 + n % 4,
            "passwordBlockSimple": True, "passwordMinutesOfInactivityBeforeLock": 15,
            "osMinimumVersion": "13.0", "systemIntegrityProtectionEnabled": True,
            "storageRequireEncryption": True, "firewallEnabled": True,
            "firewallBlockAllIncoming": n % 2 == 0, "gatekeeperAllowedAppSource":
            "macAppStoreAndIdentifiedDevelopers"}


def android(n):
    return {"@odata.type": "#microsoft.graph.androidWorkProfileCompliancePolicy",
            "passwordRequired": True, "passwordMinimumLength": 4 + n % 4,
            "passwordRequiredType": "numeric", "passwordMinutesOfInactivityBeforeLock": 15,
            "securityPreventInstallAppsFromUnknownSources": True,
            "securityDisableUsbDebugging": True, "securityRequireVerifyApps": True,
            "securityBlockJailbrokenDevices": True, "osMinimumVersion": "12.0",
            "deviceThreatProtectionEnabled": True,
            "deviceThreatProtectionRequiredSecurityLevel": "medium"}


def target(kind, group=None, filt=None, mode="include"):
    t = {"@odata.type": f"#microsoft.graph.{kind}"}
    if group:
        t["groupId"] = group
    if filt:
        t["deviceAndAppManagementAssignmentFilterId"] = filt
        t["deviceAndAppManagementAssignmentFilterType"] = mode
    return {"target": t}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("token")
    p.add_argument("out")
    p.add_argument("--groups", type=int, default=995)
    p.add_argument("--members", type=int, default=20)
    p.add_argument("--connections", type=int, default=16)
    args = p.parse_args()
    args.url_graph = "https://graph.microsoft.com"
    rnd = random.Random(18)
    pool = futures.ThreadPoolExecutor(args.connections)

    users = [u["id"] for u in every(args, "/v1.0/users?$select=id&$top=999")]
    devices = every(args, f"{BETA}/managedDevices?$select=id,operatingSystem&$top=999")
    fleet_groups = [g["id"] for g in every(args, "/v1.0/groups?$select=id&$top=999")]
    print(f"{len(users)} users, {len(devices)} devices, {len(fleet_groups)} groups", file=sys.stderr)
    with open(os.path.join(args.out, "devices.txt"), "w") as f:
        for d in devices:
            f.write(f"{d['id']} {d['operatingSystem']}\n")

    def group(n):
        members = rnd.sample(users, min(args.members, len(users)))
        return call(args, "POST", "/v1.0/groups", {
            "displayName": f"Bench group {n}", "mailEnabled": False,
            "mailNickname": f"bench{n}", "securityEnabled": True,
            "members@odata.bind": [f"{args.url_graph}/v1.0/directoryObjects/{m}" for m in members],
        })["id"]

    groups = list(pool.map(group, range(args.groups)))
    print(f"{len(groups)} static groups of {args.members} users", file=sys.stderr)

    filters = [call(args, "POST", f"{BETA}/assignmentFilters", body)["id"] for body in (
        {"displayName": "Laptops", "platform": "windows10AndLater",
         "rule": '(device.deviceName -startsWith "L")'},
        {"displayName": "Recent iOS", "platform": "iOS",
         "rule": '(device.osVersion -startsWith "17")'},
    )]

    makers = [windows] * 8 + [ios] * 4 + [macos] * 3 + [android] * 5
    policies = []
    for n, make in enumerate(makers):
        body = make(n)
        body["displayName"] = f"Bench {make.__name__} {n}"
        body["scheduledActionsForRule"] = block(24 * (n % 3) if n % 2 else 0)
        if n == 0:
            assignments = [target("allDevicesAssignmentTarget")]
        elif n == 8:
            assignments = [target("allLicensedUsersAssignmentTarget"),
                           target("exclusionGroupAssignmentTarget", rnd.choice(groups))]
        else:
            picks = rnd.sample(groups, 5) + [fleet_groups[n % len(fleet_groups)]]
            assignments = [target("groupAssignmentTarget", g) for g in picks]
            assignments.append(target("exclusionGroupAssignmentTarget", rnd.choice(groups)))
            if n == 1:
                assignments[0] = target("groupAssignmentTarget", picks[0], filters[0])
                assignments[-1] = target("allDevicesAssignmentTarget", None, filters[0], "exclude")
            if n == 9:
                assignments[0] = target("groupAssignmentTarget", picks[0], filters[1])
        policy = call(args, "POST", f"{BETA}/deviceCompliancePolicies", body)["id"]
        call(args, "POST", f"{BETA}/deviceCompliancePolicies/{policy}/assign",
             {"assignments": assignments})
        policies.append(policy)
    with open(os.path.join(args.out, "policies.txt"), "w") as f:
        f.write("\n".join(policies) + "\n")
    print(f"{len(policies)} policies assigned", file=sys.stderr)


if __name__ == "__main__":
    main()
