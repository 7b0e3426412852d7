"use strict";
// complyd for JavaScript test suites: starts the complyd binary already on this machine (it
// downloads nothing), mints its tokens and hands out tenants with a configured Graph client.
// The runner helpers (./node-test.js, ./vitest.mjs, ./jest.js) build on Server and Tenant.

const { spawn, spawnSync } = require("node:child_process");
const crypto = require("node:crypto");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

// Delegated permissions that reach every area complyd serves (read-write where there is a write).
const EVERY_AREA = [
  "DeviceManagementConfiguration.ReadWrite.All",
  "DeviceManagementRBAC.ReadWrite.All",
  "DeviceManagementServiceConfig.ReadWrite.All",
  "DeviceManagementApps.Read.All",
  "Directory.ReadWrite.All",
];
// complyd's own permission for DELETE /complyd/v1/tenant (no Graph app holds it).
const RESET_PERMISSION = "Complyd.Tenant.Reset";
const READY_LINE = "listening on ";
// How long the server may take to print its address before start-up counts as failed.
const START_TIMEOUT_MS = 30_000;

function executable(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The complyd executable: COMPLYD_BIN, the one the Python wheel installed (the active
 * virtualenv's, or what `python3 -c "import complyd"` finds), else the one on PATH. */
function binary() {
  if (process.env.COMPLYD_BIN) return process.env.COMPLYD_BIN;
  const name = process.platform === "win32" ? "complyd.exe" : "complyd";
  const bin = process.platform === "win32" ? "Scripts" : "bin";
  if (process.env.VIRTUAL_ENV) {
    const inVenv = path.join(process.env.VIRTUAL_ENV, bin, name);
    if (executable(inVenv)) return inVenv;
  }
  for (const dir of (process.env.PATH || "").split(path.delimiter)) {
    if (dir && executable(path.join(dir, name))) return path.join(dir, name);
  }
  const python = spawnSync("python3", ["-c", "import complyd; print(complyd.binary())"], { encoding: "utf8" });
  const found = python.status === 0 ? python.stdout.trim() : "";
  if (found && executable(found)) return found;
  throw new Error("no complyd binary: set COMPLYD_BIN, pip install complyd, or put it on PATH");
}

/** Where servers keep their temporary data: COMPLYD_TMPDIR, else /dev/shm when it is a writable
 * folder (memory: a fresh store starts in milliseconds there, not tens of them waiting for
 * fsync), else the system's temporary folder. */
function scratchDir() {
  if (process.env.COMPLYD_TMPDIR) return process.env.COMPLYD_TMPDIR;
  try {
    fs.accessSync("/dev/shm", fs.constants.W_OK | fs.constants.X_OK);
    if (fs.statSync("/dev/shm").isDirectory()) return "/dev/shm";
  } catch {
    // not there: the system's temporary folder
  }
  return os.tmpdir();
}

const running = new Set();
process.on("exit", () => {
  // A server whose stop() was never awaited goes with the process.
  for (const server of running) server.kill();
});

/** One `complyd serve` on a free port of 127.0.0.1 with a temporary data folder (in scratchDir()). */
class Server {
  constructor({ args = [], bin } = {}) {
    this.bin = bin || binary();
    this.args = [...args];
    this.secret = crypto.randomBytes(16).toString("hex");
    this.url = "";
    this.startedMs = 0;
    this.child = null;
    this.tokens = new Map();
  }

  async start() {
    this.dir = fs.mkdtempSync(path.join(scratchDir(), "complyd-"));
    this.dataDir = path.join(this.dir, "data");
    this.logPath = path.join(this.dir, "complyd.log");
    const log = fs.openSync(this.logPath, "w");
    const began = performance.now();
    this.child = spawn(
      this.bin,
      ["serve", "--listen", "127.0.0.1:0", "--data", this.dataDir, ...this.args],
      { stdio: ["ignore", "pipe", log], env: this.env() },
    );
    fs.closeSync(log);
    running.add(this);
    try {
      this.url = await this.readAddress();
    } catch (err) {
      await this.stop();
      throw err;
    }
    this.startedMs = performance.now() - began;
    // Neither the server nor its pipe keeps the test process alive.
    this.child.unref();
    this.child.stdout.unref();
    return this;
  }

  /** The environment of complyd's processes: the HS256 secret (not on a command line). */
  env() {
    return { ...process.env, COMPLYD_JWT_SECRET: this.secret };
  }

  readAddress() {
    return new Promise((resolve, reject) => {
      let buffered = "";
      const fail = (why) => {
        cleanup();
        reject(new Error(`${why}\n${this.log()}`));
      };
      const onData = (chunk) => {
        buffered += chunk;
        const end = buffered.indexOf("\n");
        if (end < 0) return;
        cleanup();
        const line = buffered.slice(0, end).trim();
        if (line.startsWith(READY_LINE)) resolve(line.slice(READY_LINE.length));
        else reject(new Error(`unexpected first line from complyd: ${line}\n${this.log()}`));
      };
      const onExit = (code) => fail(`complyd exited with ${code} before listening`);
      const onError = (err) => fail(`complyd could not be started (${this.bin}): ${err.message}`);
      const timer = setTimeout(() => fail(`complyd printed no address within ${START_TIMEOUT_MS / 1000} s`), START_TIMEOUT_MS);
      const cleanup = () => {
        clearTimeout(timer);
        this.child.stdout.off("data", onData);
        this.child.off("exit", onExit);
        this.child.off("error", onError);
      };
      this.child.stdout.setEncoding("utf8");
      this.child.stdout.on("data", onData);
      this.child.on("exit", onExit);
      this.child.on("error", onError);
    });
  }

  /** SIGTERM (the server drains and exits 0), SIGKILL after 10 s; removes the data folder. */
  async stop() {
    const child = this.child;
    this.child = null;
    running.delete(this);
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    }
    if (child) child.stdout.destroy();
    if (this.dir) fs.rmSync(this.dir, { recursive: true, force: true });
    this.dir = null;
  }

  /** At process exit: no waiting, the data is throwaway. */
  kill() {
    if (this.child) this.child.kill("SIGKILL");
    if (this.dir) fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /** The server's log (stderr) from byte offset `since`. */
  log(since = 0) {
    try {
      const text = fs.readFileSync(this.logPath);
      return text.subarray(since).toString("utf8");
    } catch {
      return "";
    }
  }

  /** As `log`, once the access log has written what it holds: it writes in batches about a
   * millisecond after each request, so a failure's own request may not be on disk yet. */
  async settledLog(since = 0) {
    let size = -1;
    for (let i = 0; i < 20 && size !== this.logSize(); i++) {
      size = this.logSize();
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return this.log(since);
  }

  logSize() {
    try {
      return fs.statSync(this.logPath).size;
    } catch {
      return 0;
    }
  }

  /** A bearer token from `complyd token` (the server's own minting): delegated with `scopes`
   * (default: every area), or app-only with `roles`. */
  token(tenant, { scopes = [], roles = [], appOnly = false, lifetime = 3600 } = {}) {
    appOnly = appOnly || roles.length > 0;
    if (scopes.length === 0 && roles.length === 0) {
      if (appOnly) roles = EVERY_AREA;
      else scopes = EVERY_AREA;
    }
    const key = JSON.stringify([tenant, scopes, roles, appOnly, lifetime]);
    const cached = this.tokens.get(key);
    if (cached && cached.expires > Date.now() + 60_000) return cached.token;
    const args = ["token", "--data", this.dataDir, "--tenant", tenant, "--lifetime", String(lifetime)];
    if (appOnly) args.push("--app-only", "--roles", roles.join(","));
    else args.push("--scopes", scopes.join(","));
    const done = spawnSync(this.bin, args, { encoding: "utf8", env: this.env() });
    if (done.status !== 0) throw new Error(`complyd token failed: ${done.stderr || done.error}`);
    const token = done.stdout.trim();
    this.tokens.set(key, { token, expires: Date.now() + lifetime * 1000 });
    return token;
  }

  /** A tenant of this server: a new one (a fresh GUID) unless `id` is given. */
  tenant(id) {
    return new Tenant(this, id || crypto.randomUUID());
  }

  /** A plain HTTP call (no Graph client needed): `{ status, body }` with the body parsed. */
  async request(method, pathAndQuery, token, body) {
    const headers = { Authorization: `Bearer ${token}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const res = await fetch(this.url + pathAndQuery, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  }
}

/** One tenant of a running server, as a test sees it. */
class Tenant {
  constructor(server, id) {
    this.server = server;
    this.id = id;
    this.url = server.url;
    this.clients = new Map();
    // Clock controls (moving the server's time) belong here once complyd has them; until then
    // this stays null.
    this.clock = null;
  }

  /** A token of this tenant (or of `tenant`); every area read-write by default. */
  token({ tenant, ...options } = {}) {
    return this.server.token(tenant || this.id, options);
  }

  /** Empties the tenant (DELETE /complyd/v1/tenant); resolves to how many rows it held. */
  async reset() {
    const res = await this.server.request("DELETE", "/complyd/v1/tenant", this.token({ scopes: [RESET_PERMISSION] }));
    if (res.status !== 200) throw new Error(`reset failed: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.deleted;
  }

  /** A plain HTTP call as this tenant; `pathAndQuery` like `/v1.0/...`. */
  request(method, pathAndQuery, body, token) {
    return this.server.request(method, pathAndQuery, token || this.token(), body);
  }

  /** A @microsoft/microsoft-graph-client Client on this server for `version` (v1.0 or beta),
   * with this tenant's token (or `token`). */
  graphClient(version = "v1.0", token) {
    return require("./graph.js").graphClient(this.url, version, token || this.token());
  }

  /** The v1.0 client, every area read-write. */
  get graph() {
    if (!this.clients.has("v1.0")) this.clients.set("v1.0", this.graphClient("v1.0"));
    return this.clients.get("v1.0");
  }

  /** The beta client, every area read-write. */
  get graphBeta() {
    if (!this.clients.has("beta")) this.clients.set("beta", this.graphClient("beta"));
    return this.clients.get("beta");
  }
}

/** Starts a server; `options.args` are extra `complyd serve` options. */
function startComplyd(options) {
  return new Server(options).start();
}

module.exports = { Server, Tenant, binary, scratchDir, startComplyd, EVERY_AREA, RESET_PERMISSION };
