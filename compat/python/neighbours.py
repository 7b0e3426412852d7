"""Issue 17's neighbourhood through the official Python SDKs: scope tags, notification templates
and their messages, compliance scripts, partners, deviceManagement's settings, the audit log, the
retire operations, the managed tenants' view, and $batch with numeric ids. Each endpoint through
the SDK's own request builder and models where the SDK has them.

The token needs DeviceManagementConfiguration, DeviceManagementRBAC and
DeviceManagementServiceConfig ReadWrite and DeviceManagementApps.Read (compat/run.sh mints one).
"""
from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import httpx
from kiota_abstractions.method import Method
from kiota_abstractions.request_information import RequestInformation

ZERO_GUID = "00000000-0000-0000-0000-000000000000"


class NeighbourCompat:
    def __init__(self, suite: Any, helpers: Any) -> None:
        self.suite = suite
        self.h = helpers

    def body(self, sdk: Any, module: str, cls: str) -> Any:
        import importlib

        return getattr(importlib.import_module(f"{sdk.pkg}.generated.{module}"), cls)

    def created(self, answer: Any, what: str) -> None:
        """A create answers the entity (201, or 200 from the live service for some)."""
        self.h.check(answer is not None and bool(answer.id), f"{what}: no entity came back")

    # ---- scope tags (beta)

    async def scope_tags(self, sdk: Any) -> None:
        h = self.h
        tags = sdk.dm.role_scope_tags
        listed = (await tags.get()).value
        default = [t for t in listed if t.id == "0"]
        h.check(len(default) == 1, f"no Default tag among {[t.id for t in listed]}")
        h.check_fields(default[0], {"display_name": "Default", "is_built_in": True}, "Default tag")
        Tag = sdk.model("role_scope_tag")
        made = await tags.post(Tag(display_name=f"compat tag {uuid.uuid4().hex[:6]}", description="compat"))
        self.created(made, "roleScopeTag")
        one = tags.by_role_scope_tag_id(made.id)
        await one.patch(Tag(description="patched"))
        h.check_eq((await one.get()).description, "patched", "tag after PATCH")
        Auto = sdk.model("role_scope_tag_auto_assignment")
        group = sdk.model("group_assignment_target")(group_id=str(uuid.uuid4()))
        Body = self.body(sdk, "device_management.role_scope_tags.item.assign.assign_post_request_body", "AssignPostRequestBody")
        await one.assign.post(Body(assignments=[Auto(target=group)]))
        auto = (await one.assignments.get()).value
        h.check_eq([a.target.group_id for a in auto], [group.group_id], "auto-assignments after assign")
        await h.expect_odata_error(sdk, lambda: tags.by_role_scope_tag_id("0").delete(), 400, "BadRequest")
        await one.delete()
        await h.expect_odata_error(sdk, lambda: one.get(), 404)

    async def taggable_defaults(self, sdk: Any) -> None:
        h = self.h
        created = await h.create_policy(sdk, "windows10_compliance_policy", {"password_required": True}, "compat tagged")
        got = await sdk.policy(created.id).get()
        h.check_eq(got.role_scope_tag_ids, ["0"], "a policy created without tags has the Default tag")
        bad = sdk.model("windows10_compliance_policy")(
            display_name="compat unknown tag",
            role_scope_tag_ids=["0", "no-such-tag"],
            scheduled_actions_for_rule=[h.one_block_rule(sdk)],
        )
        await h.expect_odata_error(sdk, lambda: sdk.policies.post(bad), 400, "BadRequest")

    # ---- notification templates (both versions)

    async def templates(self, sdk: Any, base: str, token: str) -> None:
        h = self.h
        Template = sdk.model("notification_message_template")
        Message = sdk.model("localized_notification_message")
        Branding = sdk.model("notification_template_branding_options")
        templates = sdk.dm.notification_message_templates
        made = await templates.post(Template(display_name=f"compat template {uuid.uuid4().hex[:6]}",
                                             branding_options=[Branding.IncludeCompanyLogo]))
        self.created(made, "notificationMessageTemplate")
        one = templates.by_notification_message_template_id(made.id)
        messages = one.localized_notification_messages
        first = await messages.post(Message(locale="en-us", subject="Heads up", message_template="Fix it", is_default=False))
        h.check_eq(first.is_default, True, "the first message is the default")
        second = await messages.post(Message(locale="de-de", subject="Achtung", message_template="Bitte", is_default=True))
        listed = {m.locale: m.is_default for m in (await messages.get()).value}
        h.check_eq(listed, {"en-us": False, "de-de": True}, "the default moved")
        await h.expect_odata_error(
            sdk,
            lambda: messages.by_localized_notification_message_id(second.id).patch(Message(is_default=False)),
            400,
            "BadRequest",
        )
        await one.send_test_message.post()
        async with httpx.AsyncClient() as http:
            outbox = (await http.get(f"{base}/complyd/v1/outbox?$top=1000",
                                     headers={"Authorization": f"Bearer {token}"})).json()["value"]
        sent = [m for m in outbox if m.get("notificationMessageTemplateId") == made.id]
        h.check_eq([(m["locale"], m["subject"]) for m in sent], [("de-de", "Achtung")], "the outbox's test message")
        await one.patch(Template(display_name="compat template renamed"))
        h.check_eq((await one.get()).display_name, "compat template renamed", "template after PATCH")
        await one.delete()
        await h.expect_odata_error(sdk, lambda: one.get(), 404)

    # ---- compliance scripts (beta)

    async def scripts(self, sdk: Any) -> None:
        h = self.h
        Script = sdk.model("device_compliance_script")
        scripts = sdk.dm.device_compliance_scripts
        made = await scripts.post(Script(display_name=f"compat script {uuid.uuid4().hex[:6]}", publisher="compat",
                                         detection_script_content=b"Write-Output '{}'",
                                         run_as_account=sdk.enum("run_as_account_type", "System")))
        self.created(made, "deviceComplianceScript")
        h.check_eq(made.role_scope_tag_ids, ["0"], "script tags")
        one = scripts.by_device_compliance_script_id(made.id)
        h.check_eq((await one.get()).detection_script_content, b"Write-Output '{}'", "script content")
        Assignment = sdk.model("device_health_script_assignment")
        Body = self.body(sdk, "device_management.device_compliance_scripts.item.assign.assign_post_request_body",
                         "AssignPostRequestBody")
        target = sdk.model("all_devices_assignment_target")()
        await one.assign.post(Body(device_health_script_assignments=[Assignment(target=target, run_remediation_script=False)]))
        h.check_eq(len((await one.assignments.get()).value), 1, "script assignments")
        State = sdk.model("device_compliance_script_device_state")
        run = sdk.model("run_state")
        import datetime as dt

        now = dt.datetime.now(dt.timezone.utc)
        for state in ["Success", "Fail"]:
            await one.device_run_states.post(State(detection_state=getattr(run, state),
                                                   last_state_update_date_time=now, last_sync_date_time=now))
        summary = await one.run_summary.get()
        h.check_fields(summary, {"no_issue_detected_device_count": 1, "issue_detected_device_count": 1}, "run summary")
        await one.delete()

    async def validate_rules(self, sdk: Any) -> None:
        h = self.h
        Body = self.body(sdk, "device_management.device_compliance_policies.validate_compliance_script."
                              "validate_compliance_script_post_request_body", "ValidateComplianceScriptPostRequestBody")
        Script = sdk.model("device_compliance_policy_script")
        rules = {"Rules": [{"SettingName": "BiosVersion", "Operator": "GreaterEquals", "DataType": "Version",
                            "Operand": "2.3", "MoreInfoUrl": "https://contoso.test/bios",
                            "RemediationStrings": [{"Language": "en_US", "Title": "BIOS", "Description": "Update"}]},
                           {"SettingName": "Secure", "Operator": "GreaterThan", "DataType": "Boolean", "Operand": "true",
                            "MoreInfoUrl": "https://contoso.test", "RemediationStrings": [{"Language": "en_US",
                                                                                        "Title": "t", "Description": "d"}]}]}
        answer = await sdk.policies.validate_compliance_script.post(
            Body(device_compliance_policy_script=Script(rules_content=json.dumps(rules).encode()))
        )
        h.check_eq([r.setting_name for r in answer.rules or []], ["BiosVersion"], "parsed rules")
        h.check_eq([(e.setting_name, str(e.code.value if e.code else None)) for e in answer.rule_errors or []],
                   [("Secure", "operatorDataTypeCombinationNotSupported")], "rule errors")

    # ---- partners (both versions)

    async def partners(self, sdk: Any) -> None:
        h = self.h
        Partner = sdk.model("compliance_management_partner")
        partners = sdk.dm.compliance_management_partners
        state = sdk.enum("device_management_partner_tenant_state", "Enabled")
        made = await partners.post(Partner(display_name="compat partner", partner_state=state, mac_os_onboarded=True))
        self.created(made, "complianceManagementPartner")
        one = partners.by_compliance_management_partner_id(made.id)
        h.check_fields(await one.get(), {"partner_state": state, "mac_os_onboarded": True}, "partner")
        await one.patch(Partner(ios_onboarded=True))
        h.check_eq((await one.get()).ios_onboarded, True, "partner after PATCH")
        await one.delete()
        await h.expect_odata_error(sdk, lambda: one.get(), 404)

    # ---- deviceManagement's settings (both versions)

    async def settings(self, sdk: Any) -> None:
        h = self.h
        got = await sdk.dm.get()
        h.check(got.settings is not None, "deviceManagement has settings")
        h.check_eq(got.settings.device_compliance_checkin_threshold_days in (30, 45), True, "threshold days (default or this suite's)")
        Settings = sdk.model("device_management_settings")
        # beta's models put deviceManagement in a package of its own (the namespace's name).
        if sdk.has_model("device_management.device_management"):
            DeviceManagement = sdk.model("device_management.device_management", "DeviceManagement")
        else:
            DeviceManagement = sdk.model("device_management")
        await sdk.dm.patch(DeviceManagement(settings=Settings(device_compliance_checkin_threshold_days=45)))
        again = await sdk.dm.get()
        h.check_eq(again.settings.device_compliance_checkin_threshold_days, 45, "threshold after PATCH")
        h.check_eq(again.settings.is_scheduled_action_enabled, True, "the other settings kept")

    # ---- audit log (both versions)

    async def audit(self, sdk: Any) -> None:
        h = self.h
        await h.new_policy_id(sdk, "compat audited")
        events = sdk.dm.audit_events
        listed = (await events.get(h.query(events, filter="category eq 'Compliance'", top=999))).value
        h.check(any(e.activity_type == "Create DeviceCompliancePolicy" for e in listed),
                f"no Create DeviceCompliancePolicy among {len(listed)} events")
        h.check(all(e.category == "Compliance" for e in listed), "the category filter")
        one = await events.by_audit_event_id(listed[0].id).get()
        h.check_eq(one.id, listed[0].id, "GET one event")
        categories = await events.get_audit_categories.get()
        h.check("Compliance" in (categories.value or []), f"categories: {categories.value}")
        types = await events.get_audit_activity_types_with_category("Compliance").get()
        h.check("Create DeviceCompliancePolicy" in (types.value or []), "activity types of Compliance")
        # Writing needs DeviceManagementApps.ReadWrite.All, which this token lacks (and with it the
        # log answers 400: it is read-only; the Rust API tests cover that).
        await h.expect_odata_error(sdk, lambda: events.post(sdk.model("audit_event")(activity="forged")), 403, "Forbidden")

    # ---- retire operations (beta)

    async def retire(self, sdk: Any) -> None:
        h = self.h
        scheduled = await sdk.policies.get_devices_scheduled_to_retire.get()
        h.check(scheduled is not None and scheduled.value is not None, "getDevicesScheduledToRetire answers a list")
        Body = self.body(sdk, "device_management.device_compliance_policies.set_scheduled_retire_state."
                              "set_scheduled_retire_state_post_request_body", "SetScheduledRetireStatePostRequestBody")
        await sdk.policies.set_scheduled_retire_state.post(
            Body(state=sdk.enum("scheduled_retire_state", "CancelRetire"), managed_device_ids=[str(uuid.uuid4())])
        )
        await sdk.policies.refresh_device_compliance_report_summarization.post()
        stamped = await sdk.dm.get()
        h.check(stamped.device_compliance_report_summarization_date_time.year >= 2024, "summarization stamped")
        pid = await h.new_policy_id(sdk, "compat payload")
        Links = self.body(sdk, "device_management.device_compliance_policies.has_payload_links."
                               "has_payload_links_post_request_body", "HasPayloadLinksPostRequestBody")
        links = await sdk.policies.has_payload_links.post(Links(payload_ids=[pid]))
        h.check_eq([(i.payload_id, i.has_link) for i in links.value], [(pid, False)], "payload links")

    # ---- managed tenants' view (beta)

    async def managed_tenants(self, sdk: Any) -> None:
        h = self.h
        tenant = f"compat-{uuid.uuid4().hex[:8]}"
        info = RequestInformation()
        info.http_method = Method.POST
        info.url = f"{sdk.adapter.base_url}/managedDeviceCompliances"
        info.set_stream_content(json.dumps({"tenantId": tenant, "tenantDisplayName": "Compat",
                                            "managedDeviceName": "VIEWED-1"}).encode(), "application/json")
        await sdk.adapter.send_primitive_async(info, "bytes", {"XXX": sdk.odata_error().create_from_discriminator_value})
        view = sdk.client.tenant_relationships.managed_tenants.managed_device_compliances
        shown = (await view.get(h.query(view, filter=f"tenantId eq '{tenant}'"))).value
        h.check_eq([(d.tenant_display_name, d.managed_device_name) for d in shown], [("Compat", "VIEWED-1")],
                   "the shipped view shows the row with the tenant's names")

    # ---- $batch with numeric ids (raw: the SDK's BatchRequestContent writes string ids)

    async def numeric_batch(self, sdk: Any, base: str, token: str) -> None:
        h = self.h
        self.suite.gap(sdk, "BatchRequestContent numbers requests as strings: the numeric-id batch is posted raw (httpx)")
        pid = await h.new_policy_id(sdk, "compat numeric batch")
        batch = {"requests": [
            {"id": 1, "method": "GET", "url": f"deviceManagement/deviceCompliancePolicies/{pid}/assignments"},
            {"id": 2, "method": "GET", "url": f"deviceManagement/deviceCompliancePolicies/{pid}", "dependsOn": [1]},
        ]}
        async with httpx.AsyncClient() as http:
            answer = (await http.post(f"{base}/{sdk.version}/$batch", json=batch,
                                      headers={"Authorization": f"Bearer {token}"})).json()
        ids = sorted(r["id"] for r in answer["responses"])
        h.check_eq(ids, [1, 2], "numeric ids answered as numbers")
        by_id = {r["id"]: r for r in answer["responses"]}
        h.check_eq(by_id[2]["body"]["id"], pid, "the dependent request ran")


def register(version: str) -> list[tuple[str, str, bool]]:
    """(case name, method, needs base and token) for `version`."""
    both = [
        ("notificationMessageTemplates, localizedNotificationMessages, sendTestMessage, outbox", "templates", True),
        ("complianceManagementPartners CRUD", "partners", False),
        ("deviceManagement settings get/patch", "settings", False),
        ("auditEvents list, get, getAuditCategories, getAuditActivityTypes", "audit", False),
        ("$batch with numeric ids (raw)", "numeric_batch", True),
    ]
    beta = [
        ("roleScopeTags: Default, CRUD, assign, Default not deleted", "scope_tags", False),
        ("roleScopeTagIds default and unknown tags", "taggable_defaults", False),
        ("deviceComplianceScripts, assign, deviceRunStates, runSummary", "scripts", False),
        ("validateComplianceScript", "validate_rules", False),
        ("retire operations and hasPayloadLinks", "retire", False),
        ("tenantRelationships/managedTenants/managedDeviceCompliances (typed)", "managed_tenants", False),
    ]
    return both + (beta if version == "beta" else [])


def encoded(text: str) -> str:
    return base64.b64encode(text.encode()).decode()
