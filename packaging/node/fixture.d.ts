import type { Server, Tenant } from "./index";

export interface FixtureContext {
  complyd: Tenant;
  /** The runner's own test context (node:test's TestContext, vitest's), if it passes one. */
  t: any;
}

export function test(name: string, body: (context: FixtureContext) => Promise<void> | void, options?: { args?: string[] }): any;
export function configure(options: { scope?: "session" | "function"; args?: string[] }): void;
export function server(): Promise<Server>;
export function stop(): Promise<void>;
