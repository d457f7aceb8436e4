import { describe, expect, it } from "vitest";

// No Dodo API key in this process (env() is read once, on first use: set before any import reads it).
process.env.DODO_PAYMENTS_API_KEY = "";

const { fetchRequestHandler } = await import("@trpc/server/adapters/fetch");
const { appRouter } = await import("@/server/api/root");
const { createTRPCContext } = await import("@/server/api/trpc");
const { newOrg, testDatabase } = await import("../helpers/db");

const { prisma } = testDatabase();
const admin = async () => ({ user: { id: "staff-admin", email: "admin@no-key.test", name: "Admin", role: "admin" as const } });

describe("billing.dodo.resync without DODO_PAYMENTS_API_KEY", () => {
  it("answers a typed PRECONDITION_FAILED over HTTP (412, never 500) and writes nothing", async () => {
    const org = await newOrg(prisma);
    const response = await fetchRequestHandler({
      endpoint: "/api/trpc",
      router: appRouter,
      req: new Request("http://127.0.0.1/api/trpc/billing.dodo.resync", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ json: { orgId: org.id } }),
      }),
      createContext: () => createTRPCContext({ headers: new Headers(), db: () => prisma, staff: admin }),
    });
    expect(response.status).toBe(412);
    const body = (await response.json()) as { error: { json: { message: string; data: { code: string; reason: string } } } };
    expect(body.error.json).toMatchObject({
      message: "DODO_PAYMENTS_API_KEY is not set",
      data: { code: "PRECONDITION_FAILED", reason: "dodo_api_key_missing" },
    });
    expect(await prisma.auditLog.count({ where: { targetId: org.id } })).toBe(0);
  });
});
