/**
 * One traffic process of the rehearsal (spawned by ./traffic.ts): its own pg pool and Prisma
 * client running ./workload.ts against REHEARSAL_DATABASE_URL until its stdin closes (or
 * REHEARSAL_MAX_SECONDS pass, so an orphan never runs on). Prints "ready" after its first
 * committed transaction, then, when stopped, one JSON line with its counts.
 */
import { createBillingServices } from "@/server/billing";
import { createDatabase } from "@/server/db/client";
import { Random } from "@/server/seed/prng";

import { runWorkload, TRAFFIC_ACTOR_PREFIX } from "./workload";

const url = process.env.REHEARSAL_DATABASE_URL;
if (!url) {
  console.error("traffic worker: REHEARSAL_DATABASE_URL is not set");
  process.exit(2);
}
const loops = Number(process.env.REHEARSAL_LOOPS ?? 2);
const maxSeconds = Number(process.env.REHEARSAL_MAX_SECONDS ?? 600);
const prng = new Random(Number(process.env.REHEARSAL_SEED ?? 1), process.pid);

let stopping = false;
process.stdin.on("data", () => undefined);
process.stdin.on("end", () => (stopping = true));
process.stdin.on("close", () => (stopping = true));
setTimeout(() => (stopping = true), maxSeconds * 1000).unref();

const handle = createDatabase(url, { max: loops + 1, applicationName: "rehearsal-traffic" });
try {
  // Every organization is fair game: the apply reaches them in id order, the traffic at random.
  const { rows } = await handle.pool.query<{ id: string }>("SELECT id::text FROM organizations ORDER BY id");
  let ready = false;
  const counts = await runWorkload({
    prisma: handle.prisma,
    services: createBillingServices(handle.prisma),
    orgIds: rows.map((r) => r.id),
    random: () => prng.next(),
    loops,
    actor: `${TRAFFIC_ACTOR_PREFIX}${process.pid}`,
    uncounted: process.env.REHEARSAL_UNCOUNTED === "1",
    shouldStop: () => stopping,
    onCommitted: () => {
      if (ready) return;
      ready = true;
      process.stdout.write("ready\n");
    },
  });
  process.stdout.write(`${JSON.stringify(counts)}\n`);
} finally {
  await handle.close();
}
