"use strict";
// complyd for jest (its globals): `const { test } = require("complyd/jest")`, then
// `test("…", async ({ complyd }) => { … })`.
const { makeFixture } = require("./fixture.js");

module.exports = makeFixture({ test: () => globalThis.test, after: () => globalThis.afterAll });
