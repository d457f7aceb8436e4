import { afterAll, describe, expect, it, vi } from "vitest";

// Next.js may evaluate a server module once per route bundle. Each `vi.resetModules()` here
// stands for another bundle: a fresh copy of the module must still hand out the process's
// one pool and one set of services. Nothing connects: a pg pool opens connections on the
// first query, and none is sent.

afterAll(async () => {
  const { db } = await import("@/server/db/client");
  await db().close();
});

describe("process-wide singletons, with the module loaded twice", () => {
  it("db(): one Prisma client over one pool", async () => {
    const first = await import("@/server/db/client");
    vi.resetModules();
    const second = await import("@/server/db/client");
    expect(second.db).not.toBe(first.db);
    expect(second.db()).toBe(first.db());
    expect(second.db().pool).toBe(first.db().pool);
    expect(second.prisma()).toBe(first.prisma());
  });

  it("billing(): one set of services, on that client", async () => {
    const first = await import("@/server/billing");
    vi.resetModules();
    const second = await import("@/server/billing");
    expect(second.billing).not.toBe(first.billing);
    expect(second.billing()).toBe(first.billing());
    const { dodoBilling } = await import("@/server/billing/dodo");
    expect(dodoBilling()).toBe(first.billing().dodo);
  });
});
