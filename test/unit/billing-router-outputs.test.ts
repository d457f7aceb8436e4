import { describe, expect, it } from "vitest";
import { ZodType } from "zod";

import { billingRouter } from "@/server/api/routers/billing";

/**
 * Every procedure of `billing.*` declares its answer with `.output(zodSchema)`: the output is
 * the wire contract (checked on the way out, and what the client's types are inferred from),
 * so a procedure without one would send whatever its resolver returns — extra fields included.
 * tRPC v11 keeps the schema given to `.output()` in the procedure's `_def.output`.
 */
const procedures = Object.entries(billingRouter._def.procedures as unknown as Record<string, { _def: { output?: unknown } }>);

describe("billing router outputs", () => {
  it("walks the whole router (nested routers included)", () => {
    expect(procedures.length).toBeGreaterThanOrEqual(38);
    expect(procedures.map(([path]) => path)).toEqual(expect.arrayContaining(["orgs.get", "dodo.webhooks.replay", "apiKeys.create"]));
  });

  it("every procedure has a zod output schema", () => {
    const without = procedures.filter(([, procedure]) => !(procedure._def.output instanceof ZodType)).map(([path]) => path);
    expect(without, "procedures without .output(zodSchema) in their router's .types.ts").toEqual([]);
  });
});
