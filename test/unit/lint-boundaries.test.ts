import { ESLint } from "eslint";
import { describe, expect, it } from "vitest";

/**
 * The layer rule of eslint.config.mjs, run by the real ESLint on the project's own config:
 * a domain file importing the transport, the framework or the API layer fails lint; the
 * same import in the API layer, and the domain's own imports, pass.
 */
const eslint = new ESLint({ cwd: process.cwd() });

async function restricted(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).filter((m) => m.ruleId === "no-restricted-imports").map((m) => m.message);
}

describe("the domain cannot import tRPC, Next, the API layer or pages (lint)", () => {
  it.each([
    ["src/server/billing/x.ts", `import { TRPCError } from "@trpc/server";\nexport const e = TRPCError;\n`],
    ["src/server/billing/dodo/x.ts", `import { headers } from "next/headers";\nexport const h = headers;\n`],
    ["src/server/db/x.ts", `import { NextResponse } from "next/server";\nexport const r = NextResponse;\n`],
    ["src/server/billing/x.ts", `import { appRouter } from "@/server/api/root";\nexport const r = appRouter;\n`],
    ["src/server/billing/backfill/x.ts", `import { billingRouter } from "../../api/routers/billing";\nexport const r = billingRouter;\n`],
    ["src/server/auth/x.ts", `import { api } from "@/trpc/server";\nexport const a = api;\n`],
  ])("%s: %s fails", async (filePath, code) => {
    expect(await restricted(filePath, code)).toHaveLength(1);
  });

  it("the API layer may import tRPC, and the domain its own modules", async () => {
    expect(await restricted("src/server/api/x.ts", `import { TRPCError } from "@trpc/server";\nexport const e = TRPCError;\n`)).toEqual([]);
    expect(
      await restricted("src/server/billing/x.ts", `import { BillingError } from "./errors";\nexport const e = BillingError;\n`),
    ).toEqual([]);
  });
});

describe("the app cannot import scripts, tools or tests, nor tools the scripts or tests (lint)", () => {
  it.each([
    ["src/app/x.ts", `import { startFakeDodo } from "../../tools";\nexport const s = startFakeDodo;\n`],
    ["src/server/billing/x.ts", `import { UsageError } from "../../../scripts/lib/args";\nexport const e = UsageError;\n`],
    ["src/server/db/x.ts", `import { schemaDrift } from "../../../test/helpers/schema-drift";\nexport const d = schemaDrift;\n`],
    ["tools/x.ts", `import { UsageError } from "../scripts/lib/args";\nexport const e = UsageError;\n`],
    ["tools/fake-dodo/x.ts", `import { waitFor } from "../../test/helpers/wait";\nexport const w = waitFor;\n`],
  ])("%s: %s fails", async (filePath, code) => {
    expect(await restricted(filePath, code)).toHaveLength(1);
  });
});

describe("the client package imports nothing of the repository or the server's libraries (lint)", () => {
  it.each([
    ["packages/client/src/x.ts", `import { METRICS } from "@/server/billing/catalogue";\nexport const m = METRICS;\n`],
    ["packages/client/src/react/x.ts", `import { appRouter } from "../../../../src/server/api/root";\nexport const r = appRouter;\n`],
    ["packages/client/src/x.ts", `import { createTRPCClient } from "@trpc/client";\nexport const c = createTRPCClient;\n`],
    ["packages/client/src/x.ts", `import { z } from "zod";\nexport const s = z.string();\n`],
  ])("%s: %s fails", async (filePath, code) => {
    expect(await restricted(filePath, code)).toHaveLength(1);
  });

  it("its own modules and superjson pass", async () => {
    expect(
      await restricted(
        "packages/client/src/react/x.ts",
        `import { METRICS } from "../catalogue";\nimport superjson from "superjson";\nexport const m = [METRICS, superjson];\n`,
      ),
    ).toEqual([]);
  });
});

describe("list pages render tables and filter forms through the shared components (lint)", () => {
  async function syntax(filePath: string, code: string): Promise<string[]> {
    const [result] = await eslint.lintText(code, { filePath });
    return (result?.messages ?? []).filter((m) => m.ruleId === "no-restricted-syntax").map((m) => m.message);
  }

  it.each([
    ["src/app/ledger/page.tsx", `export const T = () => <table><tbody /></table>;\n`, /DataTable/],
    ["src/app/_components/x.tsx", `export const F = () => <form role="search" method="get" />;\n`, /FilterForm/],
  ])("%s: a bare element fails", async (filePath, code, message) => {
    const messages = await syntax(filePath, code);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatch(message);
  });

  it("the components themselves, and forms that are not filters, pass", async () => {
    expect(await syntax("src/app/_components/data-table.tsx", `export const T = () => <table><tbody /></table>;\n`)).toEqual([]);
    expect(await syntax("src/app/_components/filter-form.tsx", `export const F = () => <form role="search" />;\n`)).toEqual([]);
    expect(await syntax("src/app/x/create-form.tsx", `export const F = () => <form aria-label="Create" />;\n`)).toEqual([]);
  });
});
