#!/usr/bin/env node
// Tools hard-wired to Microsoft's names, through `complyd serve --proxy`: @azure/identity's
// ClientSecretCredential with a tenant, client id and secret only, and the Graph client with its
// default base URL (https://graph.microsoft.com). All they are given is the environment of
// `eval "$(complyd env)"` (compat/run.sh sets it) and the one line Node needs before Node 24:
// its built-in fetch, which the Graph client uses, does not read HTTPS_PROXY, so undici's
// EnvHttpProxyAgent (which does) is made the global dispatcher. @azure/identity reads
// HTTPS_PROXY itself; Node trusts complyd's CA through NODE_EXTRA_CA_CERTS.
//
// Environment: COMPLYD_TENANT, COMPLYD_CLIENT_ID, COMPLYD_CLIENT_SECRET, plus `complyd env`.
// Prints one line per case and closes with `N passed, N failed`.

import { EnvHttpProxyAgent, setGlobalDispatcher } from "undici";
import { ClientSecretCredential } from "@azure/identity";
import { createRequire } from "node:module";

setGlobalDispatcher(new EnvHttpProxyAgent());

const require = createRequire(import.meta.url);
const { Client } = require("@microsoft/microsoft-graph-client");
const { TokenCredentialAuthenticationProvider } = require(
  "@microsoft/microsoft-graph-client/authProviders/azureTokenCredentials/index.js",
);

const { COMPLYD_TENANT: tenant, COMPLYD_CLIENT_ID: clientId, COMPLYD_CLIENT_SECRET: secret } = process.env;
const POLICIES = "/deviceManagement/deviceCompliancePolicies";

function check(condition, message) {
  if (!condition) throw new Error(message);
}

function client(version) {
  const credential = new ClientSecretCredential(tenant, clientId, secret);
  const authProvider = new TokenCredentialAuthenticationProvider(credential, {
    scopes: ["https://graph.microsoft.com/.default"],
  });
  return Client.initWithMiddleware({ authProvider, defaultVersion: version });
}

async function createAndRead(version) {
  const graph = client(version);
  const created = await graph.api(POLICIES).post({
    "@odata.type": "#microsoft.graph.windows10CompliancePolicy",
    displayName: `proxy js ${version}`,
    passwordRequired: true,
    scheduledActionsForRule: [
      { ruleName: "PasswordRequired", scheduledActionConfigurations: [{ actionType: "block", gracePeriodHours: 0 }] },
    ],
  });
  check(created.id, `no id: ${JSON.stringify(created)}`);
  check(
    created["@odata.context"].startsWith(`https://graph.microsoft.com/${version}/$metadata#`),
    `@odata.context ${created["@odata.context"]}`,
  );
  const got = await graph.api(`${POLICIES}/${created.id}`).get();
  check(got.displayName === `proxy js ${version}` && got.passwordRequired === true, "GET fields");
  const list = await graph.api(POLICIES).get();
  let ids = list.value.map((p) => p.id);
  let next = list["@odata.nextLink"];
  while (next) {
    check(next.startsWith(`https://graph.microsoft.com/${version}/`), `nextLink ${next}`);
    const page = await graph.api(next).get();
    ids = ids.concat(page.value.map((p) => p.id));
    next = page["@odata.nextLink"];
  }
  check(ids.includes(created.id), "created policy listed");
}

async function otherHostsRefused() {
  const started = Date.now();
  try {
    await fetch("https://example.com/");
  } catch (e) {
    const why = [e, e.cause, e.cause?.cause].map((x) => x?.message ?? "").join(" / ");
    check(why.includes("403"), `fetch failed otherwise: ${why}`);
    check(Date.now() - started < 10000, "the refusal took more than 10 s");
    return;
  }
  throw new Error("https://example.com was reached");
}

const cases = [
  ["v1.0 (graph client, defaults): create and read a policy", () => createAndRead("v1.0")],
  ["beta (graph client, defaults): create and read a policy", () => createAndRead("beta")],
  ["other hosts are refused at once", otherHostsRefused],
];

let passed = 0;
let failed = 0;
for (const [name, run] of cases) {
  try {
    await run();
    passed += 1;
    console.log(`ok - proxy js: ${name}`);
  } catch (e) {
    failed += 1;
    console.log(`FAIL - proxy js: ${name}: ${e.stack ?? e}`);
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
