// Issue 17's neighbourhood through @microsoft/microsoft-graph-client: scope tags, notification
// templates and their messages with sendTestMessage, compliance scripts, validateComplianceScript,
// partners, deviceManagement's settings, the audit log and its functions, the retire operations,
// the managed tenants' view, and $batch with numeric ids. The token needs every permission the
// endpoints ask for (compat/run.sh mints one).

import { randomUUID } from "node:crypto";

const ZERO_GUID = "00000000-0000-0000-0000-000000000000";
const DM = "/deviceManagement";

/** The cases, given the suite's helpers (check, checkEq, expectGraphError, newPolicy, Skip). */
export function neighbourCases(h) {
  const { check, checkEq, expectGraphError, newPolicy } = h;
  const created = (answer, what) => check(Boolean(answer?.id), `${what}: no entity came back`);

  return [
    ["both", "notificationMessageTemplates, localizedNotificationMessages, sendTestMessage", async ({ client }) => {
      const template = await client.api(`${DM}/notificationMessageTemplates`).post({
        displayName: `compat js template ${randomUUID().slice(0, 6)}`, brandingOptions: "includeCompanyName,includeDeviceDetails",
      });
      created(template, "template");
      checkEq(template.brandingOptions, "includeCompanyName,includeDeviceDetails", "flags");
      const messages = `${DM}/notificationMessageTemplates/${template.id}/localizedNotificationMessages`;
      const first = await client.api(messages).post({ locale: "fr-fr", subject: "Avis", messageTemplate: "Merci", isDefault: false });
      checkEq(first.isDefault, true, "the first message is the default");
      await expectGraphError(() => client.api(messages).post({ locale: "FR-FR", subject: "x", messageTemplate: "y" }), 400, "BadRequest");
      const sent = await client.api(`${DM}/notificationMessageTemplates/${template.id}/sendTestMessage`).post({});
      check(!sent || Object.keys(sent).length === 0, "sendTestMessage answers 204");
      await client.api(`${DM}/notificationMessageTemplates/${template.id}`).delete();
    }],
    ["both", "complianceManagementPartners CRUD", async ({ client }) => {
      const partner = await client.api(`${DM}/complianceManagementPartners`).post({ displayName: "compat js partner", partnerState: "enabled" });
      created(partner, "partner");
      await client.api(`${DM}/complianceManagementPartners/${partner.id}`).patch({ androidOnboarded: true });
      checkEq((await client.api(`${DM}/complianceManagementPartners/${partner.id}`).get()).androidOnboarded, true, "after PATCH");
      await client.api(`${DM}/complianceManagementPartners/${partner.id}`).delete();
    }],
    ["both", "deviceManagement and its settings get/patch", async ({ client }) => {
      const before = await client.api(DM).get();
      check(typeof before.settings?.deviceComplianceCheckinThresholdDays === "number", "settings shown");
      await client.api(DM).patch({ settings: { secureByDefault: true } });
      const settings = await client.api(`${DM}/settings`).get();
      checkEq(settings.secureByDefault, true, "settings after PATCH (read on their own path)");
      checkEq(settings.isScheduledActionEnabled, before.settings.isScheduledActionEnabled, "the other settings kept");
    }],
    ["both", "auditEvents with $filter, getAuditCategories, getAuditActivityTypes", async ({ client }) => {
      await newPolicy(client, "compat js audited");
      const events = await client.api(`${DM}/auditEvents`).filter("category eq 'Compliance'").top(999).get();
      check(events.value.some((e) => e.activityType === "Create DeviceCompliancePolicy"), "a Create event");
      const categories = await client.api(`${DM}/auditEvents/getAuditCategories()`).get();
      check(categories.value.includes("Role"), `categories ${categories.value}`);
      const types = await client.api(`${DM}/auditEvents/getAuditActivityTypes(category='Compliance')`).get();
      check(types.value.includes("Delete DeviceCompliancePolicy"), "activity types");
    }],
    ["both", "$batch with numeric ids (answered as numbers)", async ({ client }) => {
      const id = await newPolicy(client, "compat js numeric batch");
      const answer = await client.api("/$batch").post({ requests: [
        { id: 1, method: "GET", url: `${DM}/deviceCompliancePolicies/${id}/assignments` },
        { id: 2, method: "GET", url: `${DM}/deviceCompliancePolicies/${id}`, dependsOn: [1] },
      ] });
      const ids = answer.responses.map((r) => r.id).sort();
      checkEq(ids, [1, 2], "numeric ids answered as numbers");
      checkEq(answer.responses.find((r) => r.id === 2).body.id, id, "the dependent request ran");
    }],
    ["beta", "roleScopeTags: Default, CRUD, assign, unknown tags refused", async ({ client }) => {
      const tags = (await client.api(`${DM}/roleScopeTags`).get()).value;
      check(tags.some((t) => t.id === "0" && t.isBuiltIn), "the Default tag");
      const tag = await client.api(`${DM}/roleScopeTags`).post({ displayName: `compat js tag ${randomUUID().slice(0, 6)}` });
      created(tag, "tag");
      const assigned = await client.api(`${DM}/roleScopeTags/${tag.id}/assign`).post({ assignments: [
        { target: { "@odata.type": "#microsoft.graph.allDevicesAssignmentTarget" } }] });
      check(assigned === undefined || assigned === null || Array.isArray(assigned.value), "assign answer");
      const policyId = await newPolicy(client, "compat js tagged", { roleScopeTagIds: ["0", tag.id] });
      checkEq((await client.api(`${DM}/deviceCompliancePolicies/${policyId}`).get()).roleScopeTagIds, ["0", tag.id], "tags kept");
      await expectGraphError(() => newPolicy(client, "compat js bad tag", { roleScopeTagIds: ["nope"] }), 400, "BadRequest");
      await expectGraphError(() => client.api(`${DM}/roleScopeTags/0`).delete(), 400, "BadRequest");
    }],
    ["beta", "deviceComplianceScripts, assign, runSummary, validateComplianceScript", async ({ client }) => {
      const script = await client.api(`${DM}/deviceComplianceScripts`).post({
        displayName: "compat js script", detectionScriptContent: Buffer.from("Write-Output '{}'").toString("base64"),
      });
      created(script, "script");
      await client.api(`${DM}/deviceComplianceScripts/${script.id}/assign`).post({ deviceHealthScriptAssignments: [
        { target: { "@odata.type": "#microsoft.graph.allLicensedUsersAssignmentTarget" }, runRemediationScript: false }] });
      checkEq((await client.api(`${DM}/deviceComplianceScripts/${script.id}/assignments`).get()).value.length, 1, "assignments");
      checkEq((await client.api(`${DM}/deviceComplianceScripts/${script.id}/runSummary`).get()).noIssueDetectedDeviceCount, 0, "runSummary");
      const rules = Buffer.from(JSON.stringify({ Rules: [] })).toString("base64");
      const result = await client.api(`${DM}/deviceCompliancePolicies/validateComplianceScript`).post({
        deviceCompliancePolicyScript: { deviceComplianceScriptId: script.id, rulesContent: rules } });
      checkEq(result.scriptErrors.map((e) => e.code), ["rulesMissing"], "an empty document");
    }],
    ["beta", "retire operations, payload links, managed tenants' view", async ({ client }) => {
      checkEq((await client.api(`${DM}/deviceCompliancePolicies/getDevicesScheduledToRetire()`).get()).value.length >= 0, true, "schedule");
      await client.api(`${DM}/deviceCompliancePolicies/setScheduledRetireState`).post({ state: "confirmRetire", scopedToAllDevices: true });
      await client.api(`${DM}/deviceCompliancePolicies/refreshDeviceComplianceReportSummarization`).post({});
      const id = await newPolicy(client, "compat js payload");
      const links = await client.api(`${DM}/deviceCompliancePolicies/hasPayloadLinks`).post({ payloadIds: [id] });
      checkEq(links.value.map((l) => [l.payloadId, l.hasLink]), [[id, false]], "payload links");
      const tenant = `compat-js-${randomUUID().slice(0, 8)}`;
      await client.api("/managedDeviceCompliances").post({ tenantId: tenant, managedDeviceName: "JS-1" });
      const shown = await client.api("/tenantRelationships/managedTenants/managedDeviceCompliances").filter(`tenantId eq '${tenant}'`).get();
      checkEq(shown.value.map((d) => [d.tenantId, d.managedDeviceName]), [[tenant, "JS-1"]], "the shipped view");
    }],
  ];
}

export { ZERO_GUID };
