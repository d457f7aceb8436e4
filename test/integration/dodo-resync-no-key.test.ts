import { beforeAll, describe, expect, it } from "vitest";

import { newOrg, testDatabase } from "../helpers/db";
import { routeServerForFile } from "../helpers/route-server";
import { signedInStaff, type SignedInStaff } from "../helpers/staff-session";

// No Dodo API key in this process (env() is read once, on the first request: set before it).
process.env.DODO_PAYMENTS_API_KEY = "";

const { prisma } = testDatabase();
const server = await routeServerForFile();
let admin: SignedInStaff;
beforeAll(async () => {
  admin = await signedInStaff(prisma, server.origin, "admin");
});

describe("billing.dodo.resync without DODO_PAYMENTS_API_KEY", () => {
  it("answers a signed-in admin with a typed PRECONDITION_FAILED over HTTP (412, never 500) and writes nothing", async () => {
    const org = await newOrg(prisma);
    const response = await fetch(`${server.origin}/api/trpc/billing.dodo.resync`, {
      method: "POST",
      headers: { "content-type": "application/json", cookie: admin.cookie },
      body: JSON.stringify({ json: { orgId: org.id } }),
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
