/**
 * A separate OS process hammering the usage service (spawned by
 * test/integration/usage-concurrency.test.ts). Prints one JSON line: the deltas it saw
 * applied per org/metric, and how many were refused.
 */
import { createBillingServices } from "@/server/billing";
import { BillingError } from "@/server/billing/errors";
import type { Metric } from "@/server/billing/catalogue";
import { createDatabase } from "@/server/db/client";
import { Random } from "@/server/seed/prng";

const url = process.env.WORKER_DATABASE_URL as string;
const orgIds = JSON.parse(process.env.WORKER_ORG_IDS as string) as string[];
const ops = Number(process.env.WORKER_OPS);
const prng = new Random(Number(process.env.WORKER_SEED), process.pid);
const random = () => prng.next();

const handle = createDatabase(url, { max: 4, applicationName: "usage-worker" });
// increment on the pg pool, as the server runs it.
const { usage } = createBillingServices(handle.prisma, { pool: handle.pool });
const metrics: Metric[] = ["members", "teams", "storage_bytes", "api_calls"];
const applied: Record<string, string> = {};
let refused = 0;

async function one(): Promise<void> {
  const orgId = orgIds[Math.floor(random() * orgIds.length)] as string;
  const metric = metrics[Math.floor(random() * metrics.length)] as Metric;
  const magnitude = metric === "storage_bytes" ? BigInt(Math.floor(random() * 2 ** 31)) * 3n + 1n : BigInt(1 + Math.floor(random() * 3));
  const amount = random() < 0.45 ? -magnitude : magnitude;
  try {
    const result = await usage.increment(orgId, metric, amount, amount > 0n ? "load_add" : "load_remove", { actor: `worker-${process.pid}` });
    const key = `${orgId}|${metric}`;
    applied[key] = (BigInt(applied[key] ?? "0") + result.entry.delta).toString();
  } catch (error) {
    if (error instanceof BillingError && error.reason.endsWith("below_zero")) refused++;
    else throw error;
  }
}

let next = 0;
await Promise.all(
  Array.from({ length: 4 }, async () => {
    while (next < ops) {
      next++;
      await one();
    }
  }),
);
await handle.close();
process.stdout.write(`${JSON.stringify({ applied, refused })}\n`);
