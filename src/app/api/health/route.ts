import { prisma } from "@/server/db/client";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/** Liveness with a database round trip: 200 `{ ok: true }`, or 503 with the reason. */
export async function GET() {
  try {
    await prisma().$queryRaw`SELECT 1`;
    return Response.json({ ok: true });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return Response.json({ ok: false, error: message.split("\n")[0] }, { status: 503 });
  }
}
