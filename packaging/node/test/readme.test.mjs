import assert from "node:assert/strict";
import { test } from "complyd/node-test";

test("a policy round-trips", async ({ complyd }) => {
  const created = await complyd.graph.api("/deviceManagement/deviceCompliancePolicies")
    .post({ "@odata.type": "#microsoft.graph.windows10CompliancePolicy", displayName: "Baseline" });
  const read = await complyd.graph.api(`/deviceManagement/deviceCompliancePolicies/${created.id}`).get();
  assert.equal(read.displayName, "Baseline");
});
