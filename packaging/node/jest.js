"use strict";
// complyd for jest (its globals): `test("…", async ({ complyd }) => { … })`.
const { makeFixture } = require("./fixture.js");

const fixture = makeFixture({ test: () => globalThis.test, after: () => globalThis.afterAll });
exports.test = fixture.test;
exports.configure = fixture.configure;
exports.server = fixture.server;
exports.stop = fixture.stop;
