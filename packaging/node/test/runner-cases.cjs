// The cases vitest and jest run through complyd/vitest and complyd/jest (packaging/test.sh): the
// README's test and a tenant of its own. With COMPLYD_FAILING_CHECK set, only a test that fails on
// purpose runs: its error must carry the server's log.
const POLICIES = "/deviceManagement/deviceCompliancePolicies";
const policy = (displayName) => ({ "@odata.type": "#microsoft.graph.windows10CompliancePolicy", displayName });

module.exports = function cases(test, expect) {
  if (process.env.COMPLYD_FAILING_CHECK) {
    test("fails and shows the log", async ({ complyd }) => {
      expect((await complyd.request("GET", `/v1.0${POLICIES}/missing`)).status).toBe(200);
    });
    return;
  }
  test("a policy round-trips", async ({ complyd }) => {
    const created = await complyd.graph.api(POLICIES).post(policy("Baseline"));
    const read = await complyd.graph.api(`${POLICIES}/${created.id}`).get();
    expect(read.displayName).toBe("Baseline");
  });
  test("another tenant sees none of it", async ({ complyd }) => {
    await complyd.graph.api(POLICIES).post(policy("mine"));
    expect((await complyd.graph.api(POLICIES).get()).value.map((p) => p.displayName)).toEqual(["mine"]);
  });
};
