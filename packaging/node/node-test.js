"use strict";
// complyd for node:test: `test("…", async ({ complyd, t }) => { … })`. Named exports one by one,
// so that ES modules can import them from this CommonJS file.
const nodeTest = require("node:test");
const { makeFixture } = require("./fixture.js");

const fixture = makeFixture({ test: () => nodeTest.test, after: () => nodeTest.after });
exports.test = fixture.test;
exports.configure = fixture.configure;
exports.server = fixture.server;
exports.stop = fixture.stop;
