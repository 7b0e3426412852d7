#!/usr/bin/env python3
"""Tools hard-wired to Microsoft's names, through `complyd serve --proxy`.

The official clients exactly as their docs build them for the real service: azure-identity's
ClientSecretCredential with a tenant, client id and secret only (no authority, no
disable_instance_discovery), msgraph-sdk (v1.0) and msgraph-beta-sdk (beta) with no base URL.
All they are given is the environment of `eval "$(complyd env)"` (HTTPS_PROXY, the CA), which
compat/run.sh sets; they reach https://login.microsoftonline.com and https://graph.microsoft.com,
and complyd answers.

Environment: COMPLYD_TENANT, COMPLYD_CLIENT_ID, COMPLYD_CLIENT_SECRET (an app with
DeviceManagementConfiguration.ReadWrite.All in that tenant), COMPLYD_PAGE_SIZE (the server's page
size), plus what `complyd env` prints.

Prints one line per case and closes with `N passed, N failed`.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import shutil
import subprocess
import sys
import time
import traceback
from typing import Any, Awaitable, Callable

import msal
import requests
from azure.identity import ClientSecretCredential

GRAPH = "https://graph.microsoft.com"
SCOPES = [f"{GRAPH}/.default"]
ENV = os.environ
TENANT = ENV["COMPLYD_TENANT"]
CLIENT_ID = ENV["COMPLYD_CLIENT_ID"]
SECRET = ENV["COMPLYD_CLIENT_SECRET"]
PAGE_SIZE = int(ENV.get("COMPLYD_PAGE_SIZE", "2"))


def check(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def credential() -> ClientSecretCredential:
    return ClientSecretCredential(TENANT, CLIENT_ID, SECRET)


def sdk(version: str) -> tuple[Any, str]:
    pkg = "msgraph" if version == "v1.0" else "msgraph_beta"
    client = importlib.import_module(pkg).GraphServiceClient(credentials=credential(), scopes=SCOPES)
    return client, pkg


def model(pkg: str, module: str) -> Any:
    mod = importlib.import_module(f"{pkg}.generated.models.{module}")
    return getattr(mod, "".join(p[:1].upper() + p[1:] for p in module.split("_")))


def new_policy(pkg: str, name: str) -> Any:
    action = model(pkg, "device_compliance_action_item")(
        action_type=model(pkg, "device_compliance_action_type").Block, grace_period_hours=0
    )
    rule = model(pkg, "device_compliance_scheduled_action_for_rule")(
        rule_name="PasswordRequired", scheduled_action_configurations=[action]
    )
    return model(pkg, "windows10_compliance_policy")(
        display_name=name, password_required=True, scheduled_actions_for_rule=[rule]
    )


async def create_and_read(version: str) -> None:
    """The SDK with its defaults: POST a policy, GET it back, find it in the list."""
    client, pkg = sdk(version)
    base = client.request_adapter.base_url
    check(base.rstrip("/") == f"{GRAPH}/{version}", f"the SDK's default base URL: {base}")
    policies = client.device_management.device_compliance_policies
    created = await policies.post(new_policy(pkg, f"proxy {version}"))
    check(bool(created and created.id), "no id")
    got = await policies.by_device_compliance_policy_id(created.id).get()
    check(got.display_name == f"proxy {version}" and got.password_required is True, "GET fields")
    rules = await policies.by_device_compliance_policy_id(created.id).scheduled_actions_for_rule.get()
    check([r.rule_name for r in rules.value] == ["PasswordRequired"], "scheduled action kept")
    seen: list[str] = []
    page = await policies.get()
    while page is not None:
        seen += [p.id for p in page.value]
        page = await policies.with_url(page.odata_next_link).get() if page.odata_next_link else None
    check(created.id in seen, "created policy listed (over pages)")


def token() -> str:
    return credential().get_token(*SCOPES).token


def absolute_urls() -> None:
    """@odata.context and @odata.nextLink name https://graph.microsoft.com, as the client asked."""
    headers = {"Authorization": f"Bearer {token()}"}
    url = f"{GRAPH}/v1.0/deviceManagement/deviceCompliancePolicies"
    for i in range(PAGE_SIZE + 1):
        made = requests.post(url, headers=headers, timeout=30, json={
            "@odata.type": "#microsoft.graph.windows10CompliancePolicy",
            "displayName": f"proxy page {i}",
            "scheduledActionsForRule": [{"ruleName": "PasswordRequired", "scheduledActionConfigurations": [
                {"actionType": "block", "gracePeriodHours": 0}]}],
        })
        check(made.status_code == 201, f"POST {made.status_code}: {made.text}")
        check(made.json()["@odata.context"].startswith(f"{GRAPH}/v1.0/$metadata#"), "POST's @odata.context")
    first = requests.get(url, headers=headers, timeout=30)
    check(first.status_code == 200, f"status {first.status_code}")
    body = first.json()
    check(body["@odata.context"].startswith(f"{GRAPH}/v1.0/$metadata#"), body["@odata.context"])
    check(len(body["value"]) == PAGE_SIZE, f"a full page of {PAGE_SIZE}: {len(body['value'])}")
    link = body.get("@odata.nextLink", "")
    check(link.startswith(f"{url}?"), f"nextLink {link!r}")
    second = requests.get(link, headers=headers, timeout=30)
    check(second.status_code == 200 and second.json()["value"], "the next page answers")


def instance_discovery() -> None:
    """MSAL with instance discovery on, and the discovery documents under Microsoft's names."""
    app = msal.ConfidentialClientApplication(
        CLIENT_ID, client_credential=SECRET, authority=f"https://login.microsoftonline.com/{TENANT}"
    )
    result = app.acquire_token_for_client(scopes=SCOPES)
    check("access_token" in result, f"MSAL: {result.get('error_description', result)}")
    found = requests.get(
        "https://login.microsoftonline.com/common/discovery/instance",
        params={
            "api-version": "1.1",
            "authorization_endpoint": f"https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/authorize",
        },
        timeout=30,
    ).json()
    check(
        found["tenant_discovery_endpoint"]
        == f"https://login.microsoftonline.com/{TENANT}/v2.0/.well-known/openid-configuration",
        f"instance discovery {found}",
    )
    check("login.windows.net" in found["metadata"][0]["aliases"], f"aliases {found['metadata']}")
    for host in ["login.microsoftonline.com", "login.windows.net", "login.microsoft.com"]:
        doc = requests.get(f"https://{host}/{TENANT}/v2.0/.well-known/openid-configuration", timeout=30).json()
        want = f"https://{host}/{TENANT}/oauth2/v2.0/token"
        check(doc["token_endpoint"] == want, f"{host}: token_endpoint {doc['token_endpoint']}")


def other_hosts_refused() -> None:
    """Not Microsoft's: refused at once (403 naming the host), by requests and by curl."""
    started = time.monotonic()
    try:
        requests.get("https://example.com/", timeout=30)
    except requests.exceptions.ProxyError as e:
        check("403" in str(e), f"requests: {e}")
    else:
        raise AssertionError("https://example.com was reached")
    curl = shutil.which("curl")
    check(curl is not None, "curl is not installed")
    out = subprocess.run(
        [curl, "-s", "-o", "/dev/null", "-w", "%{http_connect}", "--max-time", "20", "https://example.com/"],
        capture_output=True, text=True, check=False,
    )
    check(out.returncode == 56 and out.stdout == "403", f"curl: exit {out.returncode}, CONNECT {out.stdout!r}")
    body = subprocess.run(
        [curl, "-s", "--max-time", "20", "-x", ENV["HTTPS_PROXY"], "http://example.com/"],
        capture_output=True, text=True, check=False,
    ).stdout
    check("example.com" in body and "offline" in body, f"plain http refusal body: {body}")
    check(time.monotonic() - started < 10, "the refusals took more than 10 s")


CASES: list[tuple[str, Callable[[], Any]]] = [
    ("v1.0 (msgraph-sdk, defaults): create and read a policy", lambda: create_and_read("v1.0")),
    ("beta (msgraph-beta-sdk, defaults): create and read a policy", lambda: create_and_read("beta")),
    ("absolute URLs use graph.microsoft.com", absolute_urls),
    ("MSAL instance discovery and the sign-in names", instance_discovery),
    ("other hosts are refused at once", other_hosts_refused),
]


def main() -> int:
    passed = failed = 0
    for name, case in CASES:
        try:
            result = case()
            if isinstance(result, Awaitable):
                asyncio.run(result)
        except Exception as e:  # noqa: BLE001 - any failure is a failed case
            failed += 1
            print(f"FAIL - proxy: {name}: {e}", flush=True)
            traceback.print_exc(limit=3)
        else:
            passed += 1
            print(f"ok - proxy: {name}", flush=True)
    print(f"{passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
