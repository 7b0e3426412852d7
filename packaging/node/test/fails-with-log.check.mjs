// Fails on purpose: packaging/test.sh checks that the failure carries the server's log.
import assert from "node:assert/strict";
import { test } from "complyd/node-test";

test("fails and shows the log", async ({ complyd }) => {
  const res = await complyd.request("GET", "/v1.0/deviceManagement/deviceCompliancePolicies/missing");
  assert.equal(res.status, 200);
});
