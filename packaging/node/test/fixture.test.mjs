// The package's own proof (packaging/test.sh runs it from the packed tarball in a fresh folder,
// with `node --test`): the fixture and the official Graph client only.
import assert from "node:assert/strict";
import { test } from "complyd/node-test";

const POLICIES = "/deviceManagement/deviceCompliancePolicies";
const policy = (displayName) => ({ "@odata.type": "#microsoft.graph.windows10CompliancePolicy", displayName });
const names = async (tenant) => (await tenant.graph.api(POLICIES).get()).value.map((p) => p.displayName).sort();

test("a policy is created and read back", async ({ complyd }) => {
  const created = await complyd.graph.api(POLICIES).post(policy("Baseline"));
  const read = await complyd.graph.api(`${POLICIES}/${created.id}`).get();
  assert.equal(read.displayName, "Baseline");
  assert.equal(read["@odata.type"], "#microsoft.graph.windows10CompliancePolicy");
});

// Same server, a tenant each: whatever their order, each sees its own policy only.
test("the first tenant sees only its policy", async ({ complyd }) => {
  await complyd.graph.api(POLICIES).post(policy("first"));
  assert.deepEqual(await names(complyd), ["first"]);
});

test("the second tenant sees only its policy", async ({ complyd }) => {
  await complyd.graph.api(POLICIES).post(policy("second"));
  assert.deepEqual(await names(complyd), ["second"]);
});

test("tenants are isolated and reset empties one", async ({ complyd }) => {
  const other = complyd.server.tenant();
  await complyd.graph.api(POLICIES).post(policy("mine"));
  await other.graph.api(POLICIES).post(policy("theirs"));
  assert.ok((await complyd.reset()) >= 1);
  assert.deepEqual([await names(complyd), await names(other)], [[], ["theirs"]]);
});

test("beta client and token factory", async ({ complyd }) => {
  await complyd.graphBeta.api("/deviceManagement/roleScopeTags").post({ displayName: "Lab" });
  const tags = (await complyd.graphBeta.api("/deviceManagement/roleScopeTags").get()).value;
  assert.deepEqual(tags.map((t) => t.displayName).sort(), ["Default", "Lab"]);
  const reader = complyd.graphClient("v1.0", complyd.token({ scopes: ["DeviceManagementConfiguration.Read.All"] }));
  assert.deepEqual((await reader.api(POLICIES).get()).value, []);
  await assert.rejects(reader.api(POLICIES).post(policy("x")), (err) => err.statusCode === 403);
});

test("a test with options gets a server of its own", async ({ complyd }) => {
  assert.deepEqual(complyd.server.args, ["--fidelity", "intune"]);
  // The live service's fidelity: a policy needs its block action, so this one is refused.
  await assert.rejects(complyd.graph.api(POLICIES).post(policy("no actions")), (err) => err.statusCode === 400);
}, { args: ["--fidelity", "intune"] });

test("the client pages through complyd's nextLinks", async ({ complyd }) => {
  const { PageIterator } = await import("@microsoft/microsoft-graph-client");
  for (const name of ["a", "b", "c", "d", "e"]) await complyd.graph.api(POLICIES).post(policy(name));
  const first = await complyd.graph.api(POLICIES).get();
  assert.equal(first.value.length, 2);
  const seen = [];
  await new PageIterator(complyd.graph, first, (p) => seen.push(p.displayName) > 0).iterate();
  assert.deepEqual(seen.sort(), ["a", "b", "c", "d", "e"]);
}, { args: ["--page-size", "2"] });
