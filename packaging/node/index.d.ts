// Types of the complyd package (index.js; the runner helpers share Fixture).

export const EVERY_AREA: readonly string[];
export const RESET_PERMISSION: string;

export interface TokenOptions {
  scopes?: string[];
  roles?: string[];
  appOnly?: boolean;
  lifetime?: number;
}

export interface Reply {
  status: number;
  body: any;
}

export class Server {
  constructor(options?: { args?: string[]; bin?: string });
  readonly url: string;
  readonly args: string[];
  readonly startedMs: number;
  start(): Promise<Server>;
  stop(): Promise<void>;
  log(since?: number): string;
  settledLog(since?: number): Promise<string>;
  logSize(): number;
  token(tenant: string, options?: TokenOptions): string;
  tenant(id?: string): Tenant;
  request(method: string, pathAndQuery: string, token: string, body?: unknown): Promise<Reply>;
}

export class Tenant {
  readonly server: Server;
  readonly id: string;
  readonly url: string;
  /** The place for clock controls, once complyd has them; null until then. */
  readonly clock: null;
  token(options?: TokenOptions & { tenant?: string }): string;
  reset(): Promise<number>;
  request(method: string, pathAndQuery: string, body?: unknown, token?: string): Promise<Reply>;
  /** A @microsoft/microsoft-graph-client Client. */
  graphClient(version?: "v1.0" | "beta", token?: string): any;
  readonly graph: any;
  readonly graphBeta: any;
}

export function binary(): string;
export function scratchDir(): string;
export function startComplyd(options?: { args?: string[]; bin?: string }): Promise<Server>;
