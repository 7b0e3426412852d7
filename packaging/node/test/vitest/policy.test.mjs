import { expect } from "vitest";
import { test } from "complyd/vitest";
import cases from "../runner-cases.cjs";

cases(test, expect);
