const { test } = require("complyd/jest");

require("../runner-cases.cjs")(test, expect);
