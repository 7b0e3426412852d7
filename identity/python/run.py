"""The official clients, unmodified, against complyd's token service and API over https.

azure-identity credentials get their tokens from complyd (authority host = complyd); msgraph-sdk
(v1.0) and msgraph-beta-sdk (beta) use them against complyd (base URL = complyd). The CA complyd
generated is trusted through SSL_CERT_FILE (httpx) and REQUESTS_CA_BUNDLE (requests), which
identity/run.sh sets.

Environment (identity/run.sh provides it): COMPLYD_URL, COMPLYD_TENANT, COMPLYD_CLIENT_ID,
COMPLYD_CLIENT_SECRET (ReadWrite app), COMPLYD_READ_CLIENT_ID, COMPLYD_READ_CLIENT_SECRET (Read
app), COMPLYD_CERT_CLIENT_ID, COMPLYD_CERT_PEM (certificate app: key + certificate).

The password grant is not driven from here: MSAL Python's user-realm lookup before it drops the
authority's port (it asks https://127.0.0.1/common/userrealm/...), so it cannot reach a complyd on
a non-default port; the Rust tests cover that grant.

Prints one line per case and closes with `N passed, N failed`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib
import os
import sys
import traceback
from typing import Any, Awaitable, Callable

from azure.identity import CertificateCredential, ClientSecretCredential

GRAPH_DEFAULT = "https://graph.microsoft.com/.default"
ENV = os.environ
BASE = ENV["COMPLYD_URL"]
TENANT = ENV["COMPLYD_TENANT"]


def credential(client_id: str, secret: str) -> ClientSecretCredential:
    # MSAL sends instance discovery to login.microsoftonline.com for hosts it does not know;
    # offline, that call cannot succeed, so it is switched off (a documented option).
    return ClientSecretCredential(TENANT, client_id, secret, authority=BASE, disable_instance_discovery=True)


class Sdk:
    """One version's GraphServiceClient on complyd, as its docs build it, with complyd's base URL."""

    def __init__(self, version: str, cred: Any) -> None:
        self.version = version
        self.pkg = "msgraph" if version == "v1.0" else "msgraph_beta"
        client_cls = importlib.import_module(self.pkg).GraphServiceClient
        self.client = client_cls(credentials=cred, scopes=[GRAPH_DEFAULT])
        self.client.request_adapter.base_url = f"{BASE}/{version}"

    def model(self, module: str, cls: str | None = None) -> Any:
        mod = importlib.import_module(f"{self.pkg}.generated.models.{module}")
        return getattr(mod, cls or "".join(p[:1].upper() + p[1:] for p in module.split("_")))

    @property
    def policies(self) -> Any:
        return self.client.device_management.device_compliance_policies

    def policy(self, pid: str) -> Any:
        return self.policies.by_device_compliance_policy_id(pid)

    @property
    def odata_error(self) -> type:
        return self.model("o_data_errors.o_data_error", "ODataError")


def check(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def new_policy(sdk: Sdk, name: str) -> Any:
    action = sdk.model("device_compliance_action_item")(
        action_type=sdk.model("device_compliance_action_type").Block, grace_period_hours=0
    )
    rule = sdk.model("device_compliance_scheduled_action_for_rule")(
        rule_name="PasswordRequired", scheduled_action_configurations=[action]
    )
    return sdk.model("windows10_compliance_policy")(
        display_name=name, description="identity suite", password_required=True, scheduled_actions_for_rule=[rule]
    )


async def policy_lifecycle(sdk: Sdk) -> None:
    """Create (with its scheduled action), read, list, update, assign, delete."""
    created = await sdk.policies.post(new_policy(sdk, f"identity {sdk.version}"))
    check(isinstance(created, sdk.model("windows10_compliance_policy")), f"POST gave {type(created)}")
    check(bool(created.id), "no id")
    pid = created.id
    got = await sdk.policy(pid).get()
    check(got.display_name == f"identity {sdk.version}" and got.password_required is True, "GET fields")
    rules = await sdk.policy(pid).scheduled_actions_for_rule.get()
    check(len(rules.value) == 1 and rules.value[0].rule_name == "PasswordRequired", "scheduled action kept")
    page = await sdk.policies.get()
    check(pid in [p.id for p in page.value], "listed")
    patched = await sdk.policy(pid).patch(
        sdk.model("windows10_compliance_policy")(display_name="identity renamed", password_minimum_length=12)
    )
    check(patched is None or patched.display_name == "identity renamed", "PATCH answer")
    got = await sdk.policy(pid).get()
    check(got.display_name == "identity renamed" and got.password_minimum_length == 12, "after PATCH")
    assignment = await sdk.policy(pid).assignments.post(
        sdk.model("device_compliance_policy_assignment")(target=sdk.model("all_devices_assignment_target")())
    )
    check(bool(assignment.id), "assignment id")
    assignments = await sdk.policy(pid).assignments.get()
    check([a.id for a in assignments.value] == [assignment.id], "assignment listed")
    check(
        isinstance(assignments.value[0].target, sdk.model("all_devices_assignment_target")), "assignment target type"
    )
    await sdk.policy(pid).delete()
    try:
        await sdk.policy(pid).get()
    except sdk.odata_error as e:
        check(e.response_status_code == 404, f"GET after DELETE: {e.response_status_code}")
    else:
        raise AssertionError("GET after DELETE succeeded")


async def device_status(sdk: Sdk) -> None:
    """Seed 001's body (beta; its v1.0 subset on v1.0), created under a policy."""
    created = await sdk.policies.post(new_policy(sdk, "identity statuses"))
    tz = dt.timezone(dt.timedelta(hours=-8))
    status = sdk.model("device_compliance_device_status")(
        odata_type="#microsoft.graph.deviceComplianceDeviceStatus",
        device_display_name="Device Display Name value",
        user_name="User Name value",
        device_model="Device Model value",
        compliance_grace_period_expiration_date_time=dt.datetime(2016, 12, 31, 23, 56, 44, 951111, tzinfo=tz),
        status=sdk.model("compliance_status").NotApplicable,
        last_reported_date_time=dt.datetime(2017, 1, 1, 0, 0, 17, 776939, tzinfo=tz),
        user_principal_name="User Principal Name value",
    )
    # Seed 001 is a beta body: `platform` exists only in beta (v1.0 gets the rest of it).
    if sdk.version == "beta":
        status.platform = 8
    answer = await sdk.policy(created.id).device_statuses.post(status)
    check(bool(answer.id), "status id")
    check(answer.device_display_name == "Device Display Name value", "status fields")
    check(sdk.version != "beta" or answer.platform == 8, "beta keeps platform")
    check(answer.status == sdk.model("compliance_status").NotApplicable, f"status {answer.status}")
    got = await sdk.policy(created.id).device_statuses.by_device_compliance_device_status_id(answer.id).get()
    check(got.user_principal_name == "User Principal Name value", "status read back")
    await sdk.policy(created.id).delete()


async def forbidden(sdk: Sdk) -> None:
    """An app granted only Read.All may list, and gets 403 as ODataError when it writes."""
    await sdk.policies.get()
    try:
        await sdk.policies.post(new_policy(sdk, "identity forbidden"))
    except sdk.odata_error as e:
        check(e.response_status_code == 403, f"status {e.response_status_code}")
        check(e.error is not None and e.error.code == "Forbidden", f"error.code {e.error and e.error.code}")
        check("DeviceManagementConfiguration.ReadWrite.All" in (e.error.message or ""), "message names the role")
    else:
        raise AssertionError("a Read.All app created a policy")


async def certificate_token(_: Any) -> None:
    cred = CertificateCredential(
        TENANT,
        ENV["COMPLYD_CERT_CLIENT_ID"],
        certificate_path=ENV["COMPLYD_CERT_PEM"],
        authority=BASE,
        disable_instance_discovery=True,
    )
    sdk = Sdk("v1.0", cred)
    page = await sdk.policies.get()
    check(page.value is not None, "listed with a certificate credential")


def wrong_secret(_: Any) -> Awaitable[None]:
    async def run() -> None:
        from azure.core.exceptions import ClientAuthenticationError

        try:
            credential(ENV["COMPLYD_CLIENT_ID"], "not-the-secret").get_token(GRAPH_DEFAULT)
        except ClientAuthenticationError as e:
            check("AADSTS7000215" in str(e), f"error text: {e}")
        else:
            raise AssertionError("a wrong secret got a token")

    return run()


async def main() -> int:
    writer = credential(ENV["COMPLYD_CLIENT_ID"], ENV["COMPLYD_CLIENT_SECRET"])
    reader = credential(ENV["COMPLYD_READ_CLIENT_ID"], ENV["COMPLYD_READ_CLIENT_SECRET"])
    cases: list[tuple[str, Callable[[Any], Awaitable[None]], Any]] = []
    for version in ("v1.0", "beta"):
        sdk = Sdk(version, writer)
        cases.append((f"{version}: policy with scheduled action and assignment, CRUD", policy_lifecycle, sdk))
        cases.append((f"{version}: device status (seed 001)", device_status, sdk))
        cases.append((f"{version}: Read.All app writing gets 403 ODataError", forbidden, Sdk(version, reader)))
    cases.append(("CertificateCredential (client assertion)", certificate_token, None))
    cases.append(("ClientSecretCredential with a wrong secret", wrong_secret, None))
    passed = failed = 0
    for name, fn, arg in cases:
        try:
            await fn(arg)
            print(f"PASS - {name}", flush=True)
            passed += 1
        except Exception as e:  # noqa: BLE001 - every failure is reported, then counted
            print(f"FAIL - {name}: {type(e).__name__}: {e}", flush=True)
            traceback.print_exc(limit=4, file=sys.stdout)
            failed += 1
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
