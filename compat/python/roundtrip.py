#!/usr/bin/env python3
"""complyd round trip: what an Intune backup-and-restore tool does, against a running complyd.

Shaped like IntuneBackupAndRestore, IntuneCD and IntuneManagement: it seeds a tenant (scope tags,
notification templates with localized messages, compliance scripts, policies with their scheduled
actions and assignments, and, when the server serves them, assignment filters and groups), backs it
up completely into files, deletes the tenant's objects, restores them in the tools' order
(scope tags, templates, scripts and filters first; then policies with their deep-inserted actions,
ids of templates, scripts, tags and filters mapped from old to new; then `assign`), reads the
tenant again and compares field by field, ignoring ids and timestamps as the tools do.

Reads go where the SDK has typed paths (msgraph-beta-sdk: scope tags, templates with
`$expand=localizedNotificationMessages`, scripts, policies with
`$expand=scheduledActionsForRule($expand=scheduledActionConfigurations)`); assignments and group
names go through `$batch` with numeric ids and writes are raw JSON through the SDK's request
adapter, as the tools post the files they wrote.

Prints `ok - ...` / `FAIL - ...` / `skip - ...` lines and closes with `N passed, M failed`.
Configuration: --url/COMPLYD_URL, --token/COMPLYD_TOKEN (every permission: configuration, RBAC,
service configuration, Group.ReadWrite.All), --fidelity/COMPLYD_FIDELITY
(documented | intune), --dir (where the backup is written and kept; a temporary folder, removed at the end, otherwise).
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import copy
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, Optional

import httpx
from kiota_abstractions.authentication import BaseBearerTokenAuthenticationProvider

from run import StaticTokenProvider

ZERO_GUID = "00000000-0000-0000-0000-000000000000"
# What the tools drop before they post a backed-up object back (read-only or per-tenant values).
VOLATILE = {"id", "createdDateTime", "lastModifiedDateTime", "version", "@odata.context", "isBuiltIn"}


class Failure(Exception):
    pass


def check(condition: bool, message: str) -> None:
    if not condition:
        raise Failure(message)


class Graph:
    """Raw JSON through the beta SDK's request adapter (its middleware, retries and auth), plus
    the typed request builders where the SDK has them."""

    def __init__(self, base: str, token: str) -> None:
        from msgraph_beta import GraphServiceClient
        from msgraph_beta.graph_request_adapter import GraphRequestAdapter

        self.base = base
        self.token = token
        host = httpx.URL(base).host
        auth = BaseBearerTokenAuthenticationProvider(StaticTokenProvider(token, host))
        self.adapter = GraphRequestAdapter(auth)
        self.adapter.base_url = f"{base}/beta"
        self.client = GraphServiceClient(request_adapter=self.adapter)
        self.http = httpx.AsyncClient(timeout=30.0, headers={"Authorization": f"Bearer {token}"})

    async def call(self, method: str, path: str, body: Any = None, ok: tuple[int, ...] = (200, 201, 204)) -> Any:
        """One raw request, as the tools send the JSON they keep; its JSON answer (or None)."""
        response = await self.http.request(method, f"{self.base}/beta/{path.lstrip('/')}",
                                           json=body if body is not None else None)
        check(response.status_code in ok,
              f"{method} {path}: {response.status_code} {response.text[:400]} (sent {json.dumps(body)[:300]})")
        return response.json() if response.content else None

    async def all(self, path: str) -> list[dict]:
        """Every member of a collection, following @odata.nextLink."""
        items: list[dict] = []
        page = await self.call("GET", path)
        for _ in range(10_000):
            items.extend(page.get("value", []))
            link = page.get("@odata.nextLink")
            if not link:
                return items
            response = await self.http.get(link)
            check(response.status_code == 200, f"GET {link}: {response.status_code}")
            page = response.json()
        raise Failure(f"{path}: more pages than expected")

    async def batch(self, requests: list[dict]) -> dict[int, dict]:
        """`$batch` in chunks of 20 with numeric ids (as the tools number them); answers by id."""
        answers: dict[int, dict] = {}
        for start in range(0, len(requests), 20):
            chunk = requests[start:start + 20]
            answer = await self.call("POST", "$batch", {"requests": chunk})
            for item in answer["responses"]:
                check(isinstance(item["id"], int), f"batch id {item['id']!r} came back as {type(item['id']).__name__}")
                answers[item["id"]] = item
        return answers


def strip(obj: Any) -> Any:
    """What the tools keep of an object to post it back: no ids, stamps, contexts."""
    if isinstance(obj, dict):
        return {k: strip(v) for k, v in obj.items() if k not in VOLATILE and not k.endswith("@odata.context")}
    if isinstance(obj, list):
        return [strip(v) for v in obj]
    return obj


def comparable(obj: Any, ids: dict[str, str]) -> Any:
    """An object for the comparison: volatile fields left out, old ids mapped to new ones."""
    if isinstance(obj, dict):
        return {k: comparable(v, ids) for k, v in obj.items() if k not in VOLATILE and "@odata.context" not in k}
    if isinstance(obj, list):
        return [comparable(v, ids) for v in obj]
    if isinstance(obj, str):
        return ids.get(obj, obj)
    return obj


def by_name(items: list[dict]) -> dict[str, dict]:
    return {i["displayName"]: i for i in items}


class RoundTrip:
    def __init__(self, graph: Graph, mode: str, folder: Path) -> None:
        self.g = graph
        self.mode = mode
        self.folder = folder
        self.passed = 0
        self.failed = 0

    def step(self, name: str, ok: bool, detail: str = "") -> None:
        if ok:
            print(f"ok - roundtrip {self.mode}: {name}", flush=True)
            self.passed += 1
        else:
            print(f"FAIL - roundtrip {self.mode}: {name}: {detail}", flush=True)
            self.failed += 1

    # ---- seed

    async def seed(self) -> None:
        g = self.g
        tags = [await g.call("POST", "deviceManagement/roleScopeTags", {"displayName": n, "description": f"{n} tag"})
                for n in ["Branch", "Labs"]]
        template = await g.call("POST", "deviceManagement/notificationMessageTemplates", {
            "displayName": "Noncompliant notice", "brandingOptions": "includeCompanyLogo,includeContactInformation",
            "roleScopeTagIds": ["0", tags[0]["id"]],
            "localizedNotificationMessages": [
                {"locale": "en-us", "subject": "Your device is not compliant", "messageTemplate": "Please update it.", "isDefault": True},
                {"locale": "de-de", "subject": "Gerät nicht konform", "messageTemplate": "Bitte aktualisieren.", "isDefault": False},
            ]})
        script = await g.call("POST", "deviceManagement/deviceComplianceScripts", {
            "displayName": "BIOS version", "publisher": "Contoso", "runAsAccount": "system",
            "detectionScriptContent": base64.b64encode(b"Write-Output '{\"BiosVersion\":\"2.4\"}'").decode(),
            "roleScopeTagIds": [tags[1]["id"]]})
        made = await g.call("POST", "deviceManagement/assignmentFilters", {
            "displayName": "Corporate Windows", "platform": "windows10AndLater",
            "rule": '(device.deviceOwnership -eq "Corporate")'})
        filter_id = made["id"]
        group_ids = []
        for name, rule in [("Compliance pilots", None), ("All Windows", '(device.deviceOSType -eq "Windows")')]:
            body = {"displayName": name, "mailEnabled": False, "mailNickname": name.replace(" ", ""),
                    "securityEnabled": True}
            if rule:
                body |= {"groupTypes": ["DynamicMembership"], "membershipRule": rule,
                         "membershipRuleProcessingState": "On"}
            group_ids.append((await g.call("POST", "groups", body))["id"])
        notification = {"actionType": "notification", "gracePeriodHours": 24,
                        "notificationTemplateId": template["id"], "notificationMessageCCList": []}
        policies = [
            {"@odata.type": "#microsoft.graph.windows10CompliancePolicy", "displayName": "Windows baseline",
             "description": "round trip", "passwordRequired": True, "passwordMinimumLength": 12,
             "bitLockerEnabled": True, "roleScopeTagIds": ["0", tags[0]["id"]],
             "deviceCompliancePolicyScript": {"deviceComplianceScriptId": script["id"],
                                              "rulesContent": base64.b64encode(b'{"Rules":[]}').decode()},
             "scheduledActionsForRule": [{"ruleName": "PasswordRequired", "scheduledActionConfigurations": [
                 {"actionType": "block", "gracePeriodHours": 0, "notificationTemplateId": ZERO_GUID},
                 notification,
                 {"actionType": "retire", "gracePeriodHours": 720, "notificationTemplateId": ZERO_GUID}]}]},
            {"@odata.type": "#microsoft.graph.iosCompliancePolicy", "displayName": "iOS baseline",
             "passcodeRequired": True, "passcodeMinimumLength": 6, "osMinimumVersion": "17.0",
             "scheduledActionsForRule": [{"ruleName": "PasswordRequired", "scheduledActionConfigurations": [
                 {"actionType": "block", "gracePeriodHours": 0, "notificationTemplateId": ZERO_GUID}]}]},
            {"@odata.type": "#microsoft.graph.androidWorkProfileCompliancePolicy", "displayName": "Android work profile",
             "passwordRequired": True, "roleScopeTagIds": [tags[1]["id"]],
             "scheduledActionsForRule": [{"ruleName": "PasswordRequired", "scheduledActionConfigurations": [
                 {"actionType": "block", "gracePeriodHours": 12, "notificationTemplateId": ZERO_GUID},
                 dict(notification, gracePeriodHours=6)]}]},
        ]
        for body in policies:
            made = await g.call("POST", "deviceManagement/deviceCompliancePolicies", body)
            targets = [{"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": group_ids[0]},
                       {"@odata.type": "#microsoft.graph.exclusionGroupAssignmentTarget", "groupId": group_ids[1]}]
            if body["displayName"] == "iOS baseline":
                targets = [{"@odata.type": "#microsoft.graph.allLicensedUsersAssignmentTarget"}]
            if body["displayName"] == "Windows baseline":
                targets[0] |= {"deviceAndAppManagementAssignmentFilterId": filter_id,
                               "deviceAndAppManagementAssignmentFilterType": "include"}
            await g.call("POST", f"deviceManagement/deviceCompliancePolicies/{made['id']}/assign",
                         {"assignments": [{"target": t} for t in targets]})

    # ---- backup

    async def backup(self) -> dict[str, Any]:
        """Everything, as the tools read it: typed where the SDK has paths, $batch for the rest."""
        g = self.g
        beta = g.client.device_management
        snapshot: dict[str, Any] = {}
        tags = await beta.role_scope_tags.get()
        snapshot["roleScopeTags"] = [json.loads(self.serialise(t)) for t in tags.value if not t.is_built_in]
        snapshot["notificationMessageTemplates"] = await g.all(
            "deviceManagement/notificationMessageTemplates?$expand=localizedNotificationMessages")
        scripts = await g.all("deviceManagement/deviceComplianceScripts")
        # The tools read each script again: a list may leave the script's content out.
        snapshot["deviceComplianceScripts"] = [await g.call("GET", f"deviceManagement/deviceComplianceScripts/{s['id']}")
                                               for s in scripts]
        snapshot["assignmentFilters"] = await g.all("deviceManagement/assignmentFilters")
        policies = await g.all("deviceManagement/deviceCompliancePolicies"
                               "?$expand=scheduledActionsForRule($expand=scheduledActionConfigurations)")
        # Assignments through $batch, numbered as the tools number them.
        requests = [{"id": i + 1, "method": "GET",
                     "url": f"deviceManagement/deviceCompliancePolicies/{p['id']}/assignments"}
                    for i, p in enumerate(policies)]
        answers = await g.batch(requests)
        for i, policy in enumerate(policies):
            item = answers[i + 1]
            check(item["status"] == 200, f"batched assignments of {policy['displayName']}: {item['status']}")
            policy["assignments"] = item["body"]["value"]
        snapshot["deviceCompliancePolicies"] = policies
        # Group names for the assignments, through $batch, as the tools resolve them.
        group_ids = sorted({a["target"]["groupId"] for p in policies for a in p["assignments"]
                            if a["target"].get("groupId")})
        snapshot["groups"] = {}
        if group_ids:
            lookups = [{"id": i + 1, "method": "GET",
                        "url": f"groups/{gid}?$select=displayName,id,groupTypes,membershipRule"}
                       for i, gid in enumerate(group_ids)]
            answers = await g.batch(lookups)
            for i, gid in enumerate(group_ids):
                item = answers[i + 1]
                check(item["status"] == 200, f"group {gid}: {item['status']}")
                snapshot["groups"][gid] = item["body"]
        return snapshot

    def serialise(self, parsable: Any) -> str:
        from kiota_serialization_json.json_serialization_writer import JsonSerializationWriter

        writer = JsonSerializationWriter()
        writer.write_object_value(None, parsable)
        return writer.get_serialized_content().decode()

    def write_files(self, snapshot: dict[str, Any]) -> None:
        for kind, items in snapshot.items():
            folder = self.folder / kind
            folder.mkdir(parents=True, exist_ok=True)
            entries = items.items() if isinstance(items, dict) else ((i.get("displayName", i.get("id")), i) for i in items)
            for name, item in entries:
                (folder / f"{''.join(c if c.isalnum() else '_' for c in str(name))}.json").write_text(
                    json.dumps(item, indent=2, ensure_ascii=False))

    def read_files(self) -> dict[str, list[dict]]:
        files: dict[str, list[dict]] = {}
        for kind in ["roleScopeTags", "notificationMessageTemplates", "deviceComplianceScripts",
                     "assignmentFilters", "deviceCompliancePolicies"]:
            folder = self.folder / kind
            files[kind] = ([json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]
                           if folder.exists() else [])
        return files

    # ---- wipe and restore

    async def wipe(self, snapshot: dict[str, Any]) -> None:
        g = self.g
        for policy in snapshot["deviceCompliancePolicies"]:
            await g.call("DELETE", f"deviceManagement/deviceCompliancePolicies/{policy['id']}")
        for kind in ["deviceComplianceScripts", "notificationMessageTemplates", "roleScopeTags", "assignmentFilters"]:
            for item in snapshot[kind]:
                await g.call("DELETE", f"deviceManagement/{kind}/{item['id']}")
        for kind in ["deviceCompliancePolicies", "deviceComplianceScripts", "notificationMessageTemplates",
                     "assignmentFilters"]:
            left = await g.all(f"deviceManagement/{kind}")
            check(left == [], f"{kind} left after the wipe: {[i.get('displayName') for i in left]}")
        left_tags = [t["id"] for t in await g.all("deviceManagement/roleScopeTags")]
        check(left_tags == ["0"], f"scope tags left after the wipe: {left_tags}")

    async def restore(self, files: dict[str, list[dict]]) -> dict[str, str]:
        """The tools' order; answers old id -> new id."""
        g = self.g
        ids: dict[str, str] = {}
        for tag in files["roleScopeTags"]:
            made = await g.call("POST", "deviceManagement/roleScopeTags", strip({k: v for k, v in tag.items()
                                                                                 if k not in ("assignments",)}))
            ids[tag["id"]] = made["id"]
        remap = lambda tag_ids: [ids.get(t, t) for t in tag_ids or []]  # noqa: E731
        for template in files["notificationMessageTemplates"]:
            body = strip(template)
            messages = body.pop("localizedNotificationMessages", [])
            body["roleScopeTagIds"] = remap(body.get("roleScopeTagIds"))
            made = await g.call("POST", "deviceManagement/notificationMessageTemplates", body)
            ids[template["id"]] = made["id"]
            # IntuneCD posts each message after the template.
            for message in messages:
                await g.call("POST", f"deviceManagement/notificationMessageTemplates/{made['id']}/localizedNotificationMessages",
                             strip(message))
        for script in files["deviceComplianceScripts"]:
            body = strip(script)
            body["roleScopeTagIds"] = remap(body.get("roleScopeTagIds"))
            made = await g.call("POST", "deviceManagement/deviceComplianceScripts", body)
            ids[script["id"]] = made["id"]
        for flt in files["assignmentFilters"]:
            made = await g.call("POST", "deviceManagement/assignmentFilters", strip(flt))
            ids[flt["id"]] = made["id"]
        for policy in files["deviceCompliancePolicies"]:
            body = strip(policy)
            assignments = body.pop("assignments", [])
            body["roleScopeTagIds"] = remap(body.get("roleScopeTagIds"))
            script = body.get("deviceCompliancePolicyScript")
            if script and script.get("deviceComplianceScriptId"):
                script["deviceComplianceScriptId"] = ids[script["deviceComplianceScriptId"]]
            for rule in body.get("scheduledActionsForRule", []):
                for action in rule.get("scheduledActionConfigurations", []):
                    template = action.get("notificationTemplateId")
                    if template and template != ZERO_GUID:
                        action["notificationTemplateId"] = ids.get(template, ZERO_GUID)
            made = await g.call("POST", "deviceManagement/deviceCompliancePolicies", body)
            ids[policy["id"]] = made["id"]
            targets = []
            for a in assignments:
                target = dict(a["target"])
                if target.get("deviceAndAppManagementAssignmentFilterId"):
                    target["deviceAndAppManagementAssignmentFilterId"] = ids[target["deviceAndAppManagementAssignmentFilterId"]]
                targets.append({"target": target})
            # assign answers 200 (with the assignments; live without a body).
            await g.call("POST", f"deviceManagement/deviceCompliancePolicies/{made['id']}/assign",
                         {"assignments": targets}, ok=(200,))
        return ids

    # ---- compare

    def compare(self, kind: str, before: list[dict], after: list[dict], ids: dict[str, str]) -> Optional[str]:
        old = {i["displayName"]: comparable(i, ids) for i in before}
        new = {i["displayName"]: comparable(i, {}) for i in after}
        if sorted(old) != sorted(new):
            return f"{kind}: names {sorted(old)} became {sorted(new)}"
        for name in old:
            a, b = normalise(kind, old[name]), normalise(kind, new[name])
            for key in sorted(set(a) | set(b)):
                if a.get(key) != b.get(key):
                    return f"{kind} '{name}'.{key}: {json.dumps(a.get(key))[:200]} became {json.dumps(b.get(key))[:200]}"
        return None


def normalise(kind: str, item: dict) -> dict:
    """Members whose order the service does not promise, in one order; assignment ids left out."""
    item = copy.deepcopy(item)
    if kind == "deviceCompliancePolicies":
        for rule in item.get("scheduledActionsForRule", []):
            rule["scheduledActionConfigurations"] = sorted(
                rule.get("scheduledActionConfigurations", []), key=lambda a: (a["actionType"], a["gracePeriodHours"]))
        item["assignments"] = sorted((a["target"] for a in item.get("assignments", [])),
                                     key=lambda t: json.dumps(t, sort_keys=True))
    if kind == "notificationMessageTemplates":
        item["localizedNotificationMessages"] = sorted(item.get("localizedNotificationMessages", []),
                                                       key=lambda m: m["locale"])
    return item


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default=os.environ.get("COMPLYD_URL"))
    ap.add_argument("--token", default=os.environ.get("COMPLYD_TOKEN"))
    ap.add_argument("--fidelity", default=os.environ.get("COMPLYD_FIDELITY", "documented"))
    ap.add_argument("--dir", default=None)
    args = ap.parse_args()
    if not args.url or not args.token:
        ap.error("the base URL and a token are needed (--url/--token or COMPLYD_URL/COMPLYD_TOKEN)")
    folder = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="complyd-roundtrip-"))
    graph = Graph(args.url.rstrip("/"), args.token)
    trip = RoundTrip(graph, args.fidelity, folder)
    try:
        await trip.seed()
        trip.step("seed: scope tags, a template with two locales, a script, three policies with actions and "
                  "assignments, a filter, groups (one dynamic)", True)
        before = await trip.backup()
        trip.write_files(before)
        files = trip.read_files()
        written = sum(len(v) for v in files.values())
        trip.step(f"backup: {written} objects read (typed, $expand, $batch with numeric ids) and written to {folder}",
                  written >= 6, f"only {written} objects")
        await trip.wipe(before)
        trip.step("wipe: every object deleted (the Default tag stays)", True)
        ids = await trip.restore(files)
        trip.step(f"restore: tags, templates, scripts, filters, "
                  f"then policies with deep-inserted actions, then assign ({len(ids)} ids mapped)", True)
        after = await trip.backup()
        for kind in ["roleScopeTags", "notificationMessageTemplates", "deviceComplianceScripts",
                     "assignmentFilters", "deviceCompliancePolicies"]:
            problem = trip.compare(kind, files[kind], after[kind], ids)
            trip.step(f"compare {kind} field by field ({len(files[kind])} objects)", problem is None, problem or "")
        # The comparison itself notices a changed field (or every compare above proves nothing).
        if files["deviceCompliancePolicies"]:
            changed = copy.deepcopy(after["deviceCompliancePolicies"])
            changed[0]["description"] = f"{changed[0].get('description')} (changed)"
            noticed = trip.compare("deviceCompliancePolicies", files["deviceCompliancePolicies"], changed, ids)
            trip.step("the comparison notices a changed field", noticed is not None, "a changed description passed")
        names_before = sorted(g["displayName"] for g in before["groups"].values())
        names_after = sorted(g["displayName"] for g in after["groups"].values())
        wanted = ["All Windows", "Compliance pilots"]
        trip.step("group names of the assignments, resolved through $batch before and after",
                  names_before == wanted and names_after == wanted, f"{names_before} / {names_after}")
    except Failure as e:
        trip.step("round trip", False, str(e))
    except Exception as e:  # noqa: BLE001 - any failure is a failed step
        trip.step("round trip", False, f"{type(e).__name__}: {e}")
    finally:
        await graph.http.aclose()
        if not args.dir:
            shutil.rmtree(folder, ignore_errors=True)
    print(f"{trip.passed} passed, {trip.failed} failed", flush=True)
    return 1 if trip.failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
