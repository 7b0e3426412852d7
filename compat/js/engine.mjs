// The compliance engine through @microsoft/microsoft-graph-client: a small fleet made with
// complyd's own API, a policy assigned to a group of its devices, check-ins and a settle through
// complyd's own API, then what the engine computed read back with the client: the devices'
// complianceState, their deviceCompliancePolicyStates, the policy's deviceStatuses and
// deviceStatusOverview, and the tenant's deviceCompliancePolicyDeviceStateSummary.
//
// It runs in a tenant of its own (COMPLYD_ENGINE_TOKEN; compat/run.sh mints one): the tenant's
// summary is derived from its devices only until a client PATCHes it, which the suite's other
// cases do in the main tenant. The summary is compared with what it was before the fleet, so
// devices left in that tenant by an earlier run do not count.

import { randomUUID } from "node:crypto";

const DM = "/deviceManagement";
const DEVICES = `${DM}/managedDevices`;
const SUMMARY = `${DM}/deviceCompliancePolicyDeviceStateSummary`;
const FLEET_SIZE = 3;
/** The summary's counters, by the managedDevice.complianceState each counts. */
const COUNTERS = {
  compliant: "compliantDeviceCount", noncompliant: "nonCompliantDeviceCount", inGracePeriod: "inGracePeriodCount",
  configManager: "configManagerCount", error: "errorDeviceCount", conflict: "conflictDeviceCount", unknown: "unknownDeviceCount",
};

/** The case, given the suite's helpers (check, checkEq, PageIterator). */
export function engineCase(h) {
  const { check, checkEq, PageIterator } = h;

  /** complyd's own API (no Graph client speaks it): JSON in, JSON out, the status checked. */
  async function own(ctx, path, body, status) {
    const answer = await fetch(`${ctx.plainBase}/complyd/v1/${path}`, {
      method: "POST", headers: { Authorization: `Bearer ${ctx.token}`, "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    const text = await answer.text();
    checkEq(answer.status, status, `POST /complyd/v1/${path}: ${text.slice(0, 300)}`);
    return text ? JSON.parse(text) : undefined;
  }

  /** Every item of a collection, every page followed with PageIterator. */
  async function all(client, request) {
    const items = [];
    await new PageIterator(client, await request.get(), (item) => { items.push(item); return true; }).iterate();
    return items;
  }

  async function summary(client) {
    const read = await client.api(SUMMARY).get();
    return Object.fromEntries(Object.values(COUNTERS).map((c) => [c, read[c]]));
  }

  /** `before` with each device's complianceState counted once more. */
  function expected(before, states) {
    const out = { ...before };
    for (const state of states) {
      check(state in COUNTERS, `a device's complianceState ${state} has no counter`);
      out[COUNTERS[state]] += 1;
    }
    return out;
  }

  return async (ctx) => {
    const { client } = ctx;
    const before = await summary(client);
    const known = new Set((await all(client, client.api(DEVICES).select(["id"]))).map((d) => d.id));

    // The fleet: devices only (no users), evaluated before the answer.
    const seed = Number.parseInt(randomUUID().slice(0, 8), 16);
    const fleet = await own(ctx, "fleet", { users: 0, devices: FLEET_SIZE, seed }, 201);
    checkEq([fleet.users, fleet.devices], [0, FLEET_SIZE], "what the fleet made");
    check(fleet.evaluated >= FLEET_SIZE, `the fleet evaluated ${fleet.evaluated} devices`);
    // Its groups (some dynamic) are not this case's: the policy targets a group of its own.
    for (const g of fleet.groups) await client.api(`/groups/${g.id}`).delete();
    const made = (await all(client, client.api(DEVICES).select(["id", "azureADDeviceId", "complianceState"])))
      .filter((d) => !known.has(d.id));
    checkEq(made.length, FLEET_SIZE, "the fleet's managed devices");
    const [failing, passing, unset] = made;

    // A group of the fleet's directory devices, and a password policy assigned to it.
    const tag = randomUUID().slice(0, 6);
    const group = await client.api("/groups").post({
      displayName: `compat js engine ${tag}`, mailEnabled: false, mailNickname: `compatjsengine${tag}`, securityEnabled: true,
    });
    const directory = [];
    for (const d of made) {
      const found = (await client.api("/devices").filter(`deviceId eq '${d.azureADDeviceId}'`).get()).value;
      checkEq(found.length, 1, `the directory device of ${d.id}`);
      directory.push(found[0].id);
      await client.api(`/groups/${group.id}/members/$ref`).post({
        "@odata.id": `https://graph.microsoft.com/${ctx.version}/directoryObjects/${found[0].id}`,
      });
    }
    const policy = await client.api(`${DM}/deviceCompliancePolicies`).post({
      "@odata.type": "#microsoft.graph.windows10CompliancePolicy", displayName: `compat js engine ${tag}`,
      passwordRequired: true, passwordMinimumLength: 10,
      scheduledActionsForRule: [{ ruleName: "PasswordRequired", scheduledActionConfigurations: [{ actionType: "block", gracePeriodHours: 0 }] }],
    });
    await client.api(`${DM}/deviceCompliancePolicies/${policy.id}/assign`).post({
      assignments: [{ target: { "@odata.type": "#microsoft.graph.groupAssignmentTarget", groupId: group.id } }],
    });

    // Check-ins: each a Windows device (the fleet's platforms are the seed's), one password too short,
    // one long enough, one never set.
    const windows = { operatingSystem: "Windows", osVersion: "10.0.22631.4037" };
    const reports = [
      [failing, { passwordSet: true, passwordLength: 4 }, "noncompliant"],
      [passing, { passwordSet: true, passwordLength: 12 }, "compliant"],
      [unset, { passwordSet: false, passwordLength: 0 }, "noncompliant"],
    ];
    for (const [d, facts, verdict] of reports) {
      const answer = await own(ctx, `devices/${d.id}/checkIn`, { ...windows, ...facts }, 200);
      checkEq(answer.complianceState, verdict, `the check-in's verdict for ${d.id}`);
    }
    await own(ctx, "engine/settle", {}, 200);

    // The devices' verdicts, each read and listed by verdict.
    const states = [];
    for (const [d, , verdict] of reports) {
      const read = await client.api(`${DEVICES}/${d.id}`).select(["id", "complianceState"]).get();
      checkEq(read.complianceState, verdict, `managedDevice ${d.id} complianceState`);
      states.push(read.complianceState);
    }
    const noncompliant = (await all(client, client.api(DEVICES).filter("complianceState eq 'noncompliant'").select(["id"]))).map((d) => d.id);
    checkEq(made.map((d) => noncompliant.includes(d.id)), [true, false, true], "$filter=complianceState eq 'noncompliant'");

    // Each device's state for the policy, with the settings that failed.
    const policyState = async (d) => {
      const mine = (await client.api(`${DEVICES}/${d.id}/deviceCompliancePolicyStates`).get()).value.filter((s) => s.id === policy.id);
      checkEq(mine.length, 1, `${d.id}: the policy's state`);
      return [mine[0].state, mine[0].settingStates.filter((s) => s.state === "nonCompliant").map((s) => s.settingName).sort()];
    };
    checkEq(await policyState(failing), ["nonCompliant", ["passwordMinimumLength"]], "the short password's policy state");
    checkEq((await policyState(passing))[0], "compliant", "the long password's policy state");
    const [unsetState, unsetFailed] = await policyState(unset);
    checkEq(unsetState, "nonCompliant", "the unset password's policy state");
    check(unsetFailed.includes("passwordRequired"), `the unset password fails passwordRequired: ${unsetFailed}`);

    // The policy's statuses and their overview.
    const statuses = await all(client, client.api(`${DM}/deviceCompliancePolicies/${policy.id}/deviceStatuses`));
    const byDevice = Object.fromEntries(statuses.map((s) => [s.id, s.status]));
    checkEq(made.map((d) => byDevice[d.id]), ["nonCompliant", "compliant", "nonCompliant"], "deviceStatuses");
    checkEq(statuses.length, FLEET_SIZE, "deviceStatuses: the group's devices only");
    const overview = async () => {
      const o = await client.api(`${DM}/deviceCompliancePolicies/${policy.id}/deviceStatusOverview`).get();
      return [o.successCount, o.failedCount, o.pendingCount, o.errorCount];
    };
    checkEq(await overview(), [1, 2, 0, 0], "deviceStatusOverview [success, failed, pending, error]");

    // The tenant's summary: what it counted before, and the fleet's devices by their verdicts.
    checkEq(await summary(client), expected(before, states), "deviceCompliancePolicyDeviceStateSummary");

    // The short password made long enough: every count moves.
    const fixed = await own(ctx, `devices/${failing.id}/checkIn`, { passwordLength: 14 }, 200);
    checkEq(fixed.complianceState, "compliant", "the check-in's verdict after the fix");
    await own(ctx, "engine/settle", {}, 200);
    checkEq(await overview(), [2, 1, 0, 0], "deviceStatusOverview after the fix");
    checkEq(await summary(client), expected(before, ["compliant", "compliant", "noncompliant"]), "the tenant summary after the fix");

    // Gone again: the tenant counts what it counted before the fleet.
    await client.api(`${DM}/deviceCompliancePolicies/${policy.id}`).delete();
    for (const d of made) await client.api(`${DEVICES}/${d.id}`).delete();
    for (const id of directory) await client.api(`/devices/${id}`).delete();
    await client.api(`/groups/${group.id}`).delete();
    await own(ctx, "engine/settle", {}, 200);
    checkEq(await summary(client), before, "the tenant summary once the fleet is deleted");
  };
}
