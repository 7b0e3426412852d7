"""The compliance engine through the official Python SDKs: a managed device created with the SDK,
checked in through complyd's own API, then its verdict, its policy states with their setting
states, the policy's device and user statuses and overviews, the setting summaries and the
tenant's device state summary read back with the SDK's typed models.

The token needs DeviceManagementConfiguration and DeviceManagementManagedDevices ReadWrite
(compat/run.sh mints one).
"""
from __future__ import annotations

import uuid
from typing import Any

import httpx


class EngineCompat:
    def __init__(self, suite: Any, helpers: Any) -> None:
        self.suite = suite
        self.h = helpers

    async def check_in(self, base: str, token: str, device: str, report: dict) -> dict:
        async with httpx.AsyncClient() as http:
            answer = await http.post(f"{base}/complyd/v1/devices/{device}/checkIn", json=report,
                                     headers={"Authorization": f"Bearer {token}"})
        self.h.check_eq(answer.status_code, 200, f"check-in: {answer.text}")
        return answer.json()

    async def settle(self, base: str, token: str) -> None:
        async with httpx.AsyncClient() as http:
            answer = await http.post(f"{base}/complyd/v1/engine/settle", json={},
                                     headers={"Authorization": f"Bearer {token}"})
        self.h.check_eq(answer.status_code, 200, f"settle: {answer.text}")

    async def evaluated_device(self, sdk: Any, base: str, token: str) -> None:
        h = self.h
        tag = uuid.uuid4().hex[:6]
        Policy = sdk.model("windows10_compliance_policy")
        Rule = sdk.model("device_compliance_scheduled_action_for_rule")
        Action = sdk.model("device_compliance_action_item")
        block = Action(action_type=sdk.enum("device_compliance_action_type", "Block"), grace_period_hours=0)
        policy = await sdk.policies.post(Policy(
            display_name=f"engine compat {tag}", password_required=True, password_minimum_length=10,
            scheduled_actions_for_rule=[Rule(rule_name="PasswordRequired", scheduled_action_configurations=[block])]))
        Assignment = sdk.model("device_compliance_policy_assignment")
        everyone = sdk.model("all_devices_assignment_target")()
        Body = sdk.body("assign.assign_post_request_body", "AssignPostRequestBody")
        await sdk.policy(policy.id).assign.post(Body(assignments=[Assignment(target=everyone)]))
        # The SDK's managedDevice model writes none of the properties a device reports (the
        # metadata marks them computed), so the device is made as an enrolment would: raw JSON.
        # The live service routes no POST there (--fidelity intune): a fleet of one makes it.
        headers = {"Authorization": f"Bearer {token}"}
        device_body = {"deviceName": f"COMPAT-{tag}", "operatingSystem": "Windows",
                       "osVersion": "10.0.22631.2861", "userId": str(uuid.uuid4()),
                       "userPrincipalName": f"compat.{tag}@contoso.example"}
        async with httpx.AsyncClient() as http:
            answer = await http.post(f"{base}/{sdk.version}/deviceManagement/managedDevices",
                                     json=device_body, headers=headers)
            if self.suite.mode == "intune":
                h.check_eq(answer.status_code, 400, f"intune: managedDevice create is unrouted: {answer.text}")
                before = {d["id"] for d in (await http.get(
                    f"{base}/beta/deviceManagement/managedDevices?$select=id&$top=999", headers=headers)).json()["value"]}
                fleet = await http.post(f"{base}/complyd/v1/fleet", headers=headers,
                                        json={"users": 1, "devices": 1, "seed": int(tag, 16)})
                h.check_eq(fleet.status_code, 201, f"fleet of one: {fleet.text}")
                # The fleet's groups (some dynamic) would pick up the other cases' devices.
                for group in fleet.json()["groups"]:
                    gone = await http.delete(f"{base}/v1.0/groups/{group['id']}", headers=headers)
                    h.check_eq(gone.status_code, 204, f"the fleet's group {group['displayName']} deleted")
                after = (await http.get(f"{base}/beta/deviceManagement/managedDevices?$select=id&$top=999",
                                        headers=headers)).json()["value"]
                new_ids = [d["id"] for d in after if d["id"] not in before]
                h.check_eq(len(new_ids), 1, "the fleet's device")
                device_id = new_ids[0]
                await self.check_in(base, token, device_id, {k: v for k, v in device_body.items()
                                                             if k in ("deviceName", "operatingSystem", "osVersion")})
            else:
                h.check_eq(answer.status_code, 201, f"managedDevice create: {answer.text}")
                device_id = answer.json()["id"]
        made = await sdk.dm.managed_devices.by_managed_device_id(device_id).get()
        h.check_eq(made.device_name, f"COMPAT-{tag}", "managedDevice read with the SDK")
        verdict = await self.check_in(base, token, made.id, {"passwordSet": True, "passwordLength": 4})
        h.check_eq(verdict["complianceState"], "noncompliant", "check-in verdict")
        # The SDK reads what the engine computed, as typed models.
        device = await sdk.dm.managed_devices.by_managed_device_id(made.id).get()
        h.check_eq(device.compliance_state, sdk.enum("compliance_state", "Noncompliant"), "managedDevice.complianceState")
        states = (await sdk.dm.managed_devices.by_managed_device_id(made.id).device_compliance_policy_states.get()).value
        mine = [s for s in states if s.id == policy.id]
        h.check_eq(len(mine), 1, "the device's policy states")
        h.check_eq(mine[0].state, sdk.enum("compliance_status", "NonCompliant"), "policy state")
        failing = [s.setting_name for s in mine[0].setting_states
                   if s.state == sdk.enum("compliance_status", "NonCompliant")]
        h.check_eq(failing, ["passwordMinimumLength"], "failing settings")
        statuses = (await sdk.policy(policy.id).device_statuses.get()).value
        h.check_eq([(s.id, s.status) for s in statuses],
                   [(made.id, sdk.enum("compliance_status", "NonCompliant"))], "deviceStatuses")
        overview = await sdk.policy(policy.id).device_status_overview.get()
        h.check_eq(overview.failed_count, 1, "deviceStatusOverview.failedCount")
        # The device's primary user (a fleet's device may have none) has one device here.
        users = (await sdk.policy(policy.id).user_statuses.get()).value
        mine = [u.devices_count for u in users if u.user_principal_name == device.user_principal_name]
        h.check_eq(mine, [1] if device.user_principal_name else [], "userStatuses of the device's user")
        summaries = (await sdk.policy(policy.id).device_setting_state_summaries.get()).value
        by_name = {s.setting_name: s for s in summaries}
        h.check_eq(by_name["passwordMinimumLength"].non_compliant_device_count, 1, "setting summary")
        # Back to compliant: the tenant's summary counts the device compliant.
        await self.check_in(base, token, made.id, {"passwordLength": 12})
        tenant = await sdk.dm.device_compliance_policy_device_state_summary.get()
        h.check(tenant.compliant_device_count >= 1, f"tenant summary: {tenant.compliant_device_count}")
        await sdk.policy(policy.id).delete()
        await self.settle(base, token)
        states = (await sdk.dm.managed_devices.by_managed_device_id(made.id).device_compliance_policy_states.get()).value
        h.check_eq([s.id for s in states if s.id == policy.id], [], "states after the policy's delete")
        await sdk.dm.managed_devices.by_managed_device_id(made.id).delete()


def register(version: str) -> list[tuple[str, str, bool]]:
    return [("engine: a device created, checked in, and every report read back typed", "evaluated_device", True)]
