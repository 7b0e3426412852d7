"use strict";
// The fixture every runner helper shares: `test(name, async ({ complyd, t }) => …)` runs the body
// with a new tenant of a running complyd, and a failing test's error carries the server's log.

const { Server } = require("./index.js");

const SCOPES = ["session", "function"];

/** `runner` gives the runner's `test` and its after-all hook, looked up when first needed. */
function makeFixture(runner) {
  const options = { scope: process.env.COMPLYD_SCOPE || "session", args: [] };
  let shared = null;
  let hooked = false;

  /** Scope ("session": one server for the test file, default; "function": one per test) and
   * extra `complyd serve` options for the servers started from now on. */
  function configure({ scope, args } = {}) {
    if (scope !== undefined) options.scope = scope;
    if (args !== undefined) options.args = [...args];
    if (!SCOPES.includes(options.scope)) throw new Error(`scope is session or function, not ${options.scope}`);
  }

  function sharedServer() {
    if (!shared) shared = new Server({ args: options.args }).start();
    return shared;
  }

  async function stopShared() {
    const server = shared;
    shared = null;
    if (server) await (await server).stop();
  }

  function test(name, body, testOptions = {}) {
    configure();
    if (!hooked) {
      // Registered where the first complyd test is declared; a later test after that hook ran
      // starts a new server.
      runner.after()(stopShared);
      hooked = true;
    }
    return runner.test()(name, async (...context) => {
      const own = testOptions.args !== undefined || options.scope === "function";
      const server = own
        ? await new Server({ args: [...options.args, ...(testOptions.args || [])] }).start()
        : await sharedServer();
      const since = own ? 0 : server.logSize();
      try {
        await body({ complyd: server.tenant(), t: context[0] });
      } catch (err) {
        withLog(err, await server.settledLog(since));
        throw err;
      } finally {
        if (own) await server.stop();
      }
    });
  }

  return { test, configure, server: sharedServer, stop: stopShared };
}

/** Appends the server's log to a failure's message (the runners show messages in full). */
function withLog(err, log) {
  if (err instanceof Error) err.message = `${err.message}\n--- complyd log ---\n${log || "(empty)"}`;
}

module.exports = { makeFixture };
