// complyd for vitest: `test("…", async ({ complyd, t }) => { … })`; `t` is vitest's context.
import { test as vitestTest, afterAll } from "vitest";
import fixture from "./fixture.js";

const complyd = fixture.makeFixture({ test: () => vitestTest, after: () => afterAll });
export const { test, configure, server, stop } = complyd;
export default complyd;
