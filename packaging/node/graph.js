"use strict";
// @microsoft/microsoft-graph-client pointed at a complyd, loaded only when a test asks for one.

const VERSIONS = ["v1.0", "beta"];

/** Sets the bearer token on requests to complyd's origin only (the client's own authentication
 * handler sends tokens to https Graph hosts alone, and complyd serves plain http on loopback).
 * It also restores absolute http URLs such as `@odata.nextLink`s, which the client takes for
 * relative paths (`{base}/v1.0/http://…`) because it knows only https ones as absolute. */
class ComplydAuthentication {
  constructor(origin, token) {
    this.origin = origin;
    this.token = token;
  }

  async execute(context) {
    let url = typeof context.request === "string" ? context.request : context.request.url;
    const nested = url.lastIndexOf(`${this.origin}/`);
    if (nested > 0) {
      url = url.slice(nested);
      context.request = typeof context.request === "string" ? url : new Request(url, context.request);
    }
    if (new URL(url).origin === this.origin) {
      const value = `Bearer ${this.token}`;
      if (typeof context.request !== "string") {
        context.request.headers.set("Authorization", value);
      } else {
        context.options = context.options || {};
        const headers = context.options.headers;
        if (headers && typeof headers.set === "function") headers.set("Authorization", value);
        else context.options.headers = { ...(headers || {}), Authorization: value };
      }
    }
    return this.next.execute(context);
  }

  setNext(next) {
    this.next = next;
  }
}

function graphClient(url, version, token) {
  if (!VERSIONS.includes(version)) throw new Error(`version is v1.0 or beta, not ${version}`);
  let graph;
  try {
    graph = require("@microsoft/microsoft-graph-client");
  } catch (err) {
    throw new Error("the Graph client needs @microsoft/microsoft-graph-client: npm install @microsoft/microsoft-graph-client", { cause: err });
  }
  const middleware = [
    new ComplydAuthentication(new URL(url).origin, token),
    new graph.RetryHandler(new graph.RetryHandlerOptions()),
    new graph.RedirectHandler(new graph.RedirectHandlerOptions()),
    new graph.TelemetryHandler(),
    new graph.HTTPMessageHandler(),
  ];
  return graph.Client.initWithMiddleware({ middleware, baseUrl: `${url}/`, defaultVersion: version });
}

module.exports = { graphClient };
