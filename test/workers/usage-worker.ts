/**
 * A separate OS process writing usage through every write path, wired as the server wires
 * them: `increment` and `consume` straight on the pg pool, `incrementMany` in a Prisma
 * transaction. Spawned by test/helpers/worker-processes.ts (usage-concurrency.test.ts,
 * entitlements.test.ts): reads a UsageWorkerConfig from WORKER_CONFIG, prints "ready" once
 * connected, starts on a line on stdin, and ends with one JSON line, a UsageWorkerReport.
 */
import { createBillingServices } from "@/server/billing";
import { METERED_ACTIONS, type MeteredAction, type MeteredActionName } from "@/server/billing/actions";
import { METRICS, type Metric } from "@/server/billing/catalogue";
import { BillingError } from "@/server/billing/errors";
import type { LedgerEntry } from "@/server/billing/ledger-entry";
import { createDatabase } from "@/server/db/client";
import { Random } from "@/server/seed/prng";

/** A consume request; file actions draw a size unless `amount` (bytes) is given. */
export interface ConsumeAction {
  action: MeteredActionName;
  amount?: string;
}

export interface UsageWorkerConfig {
  seed: number;
  /** Operations in this process (a batch counts as one). */
  ops: number;
  /** Relative weights of the write paths. */
  mix: { increment?: number; consume?: number; incrementMany?: number };
  /** Organizations every write path touches. */
  orgIds: string[];
  /** Organizations only `consume` touches: their counts move under the limit check alone. */
  consumeOnlyOrgIds?: string[];
  /** What `consume` asks for (default: every metered action). */
  consumeActions?: ConsumeAction[];
  /** Operations in flight at once (the pool has as many connections). */
  concurrency?: number;
}

export interface ConsumeTally {
  allowed: number;
  denied: number;
  replayed: number;
}

export interface UsageWorkerReport {
  /** Sum of the deltas this process applied, per "orgId|metric" (decimal strings). */
  applied: Record<string, string>;
  /** The ledger rows this process applied (never a replay or a duplicate). */
  appliedIds: string[];
  /** The rows it was answered with as replays or duplicates of an earlier write. */
  replayedIds: string[];
  /** Consume outcomes per "orgId|action". */
  consumes: Record<string, ConsumeTally>;
  /** Applied consumes that added usage under a hard limit… */
  cappedApplied: number;
  /** …and those whose committed count (the conditional UPDATE's RETURNING) exceeded it: must be none. */
  overLimit: { orgId: string; action: string; used: string; limit: string }[];
  /** Writes refused because a count would go below zero. */
  refused: number;
  duplicates: { batch: number; history: number };
  rejected: string[];
}

/** Keys shared by every process (and by increment and incrementMany): each always means the same change. */
const SHARED_KEYS = 60;
function sharedEvent(j: number): { metric: Metric; amount: bigint; idempotencyKey: string } {
  const metric = METRICS[j % METRICS.length] as Metric;
  const magnitude = metric === "storage_bytes" ? BigInt(j + 1) * 1_048_573n : BigInt(1 + (j % 3));
  return { metric, amount: j % 5 === 0 ? -magnitude : magnitude, idempotencyKey: `shared-${j}` };
}

const config = JSON.parse(process.env.WORKER_CONFIG as string) as UsageWorkerConfig;
const concurrency = config.concurrency ?? 4;
const prng = new Random(config.seed, process.pid);
const actor = `worker-${process.pid}`;
const handle = createDatabase(process.env.WORKER_DATABASE_URL as string, { max: concurrency, applicationName: "usage-worker" });
const { usage, entitlements } = createBillingServices(handle.prisma, { pool: handle.pool });

const consumeOrgs = [...config.orgIds, ...(config.consumeOnlyOrgIds ?? [])];
const consumeActions: ConsumeAction[] =
  config.consumeActions ?? (Object.keys(METERED_ACTIONS) as MeteredActionName[]).map((action) => ({ action }));
const report: UsageWorkerReport = {
  applied: {},
  appliedIds: [],
  replayedIds: [],
  consumes: {},
  cappedApplied: 0,
  overLimit: [],
  refused: 0,
  duplicates: { batch: 0, history: 0 },
  rejected: [],
};

function recordApplied(entry: LedgerEntry, options: { listed: boolean } = { listed: true }): void {
  const key = `${entry.orgId}|${entry.metric}`;
  report.applied[key] = (BigInt(report.applied[key] ?? "0") + entry.delta).toString();
  if (options.listed) report.appliedIds.push(entry.id);
}

function isBelowZero(error: unknown): boolean {
  return error instanceof BillingError && error.reason.endsWith("below_zero");
}

function randomChange(metric: Metric): bigint {
  const magnitude = metric === "storage_bytes" ? BigInt(prng.int(1, 2 ** 29)) : BigInt(prng.int(1, 3));
  return prng.chance(0.45) ? -magnitude : magnitude;
}

async function incrementOnce(): Promise<void> {
  const orgId = prng.pick(config.orgIds);
  const shared = prng.chance(0.2) ? sharedEvent(prng.index(SHARED_KEYS)) : undefined;
  const metric = shared?.metric ?? prng.pick(METRICS);
  const amount = shared?.amount ?? randomChange(metric);
  try {
    const result = await usage.increment(orgId, metric, amount, amount > 0n ? "load_add" : "load_remove", {
      actor,
      idempotencyKey: shared?.idempotencyKey,
    });
    if (result.replayed) report.replayedIds.push(result.entry.id);
    else recordApplied(result.entry);
  } catch (error) {
    if (isBelowZero(error)) report.refused++;
    else throw error;
  }
}

async function incrementManyOnce(): Promise<void> {
  const events: { orgId: string; metric: Metric; amount: bigint; reason: string; idempotencyKey?: string }[] = [];
  const size = prng.int(2, 8);
  while (events.length < size) {
    const keyed = events.filter((e) => e.idempotencyKey);
    if (keyed.length > 0 && prng.chance(0.15)) {
      events.push({ ...prng.pick(keyed) }); // the same key twice in one batch
      continue;
    }
    const orgId = prng.pick(config.orgIds);
    if (prng.chance(0.5)) {
      const shared = sharedEvent(prng.index(SHARED_KEYS));
      events.push({ orgId, ...shared, reason: "batch_keyed" });
    } else {
      const metric = prng.pick(METRICS);
      events.push({ orgId, metric, amount: randomChange(metric), reason: "batch_load" });
    }
  }
  for (const result of await usage.incrementMany(events, { actor })) {
    if (result.status === "applied") recordApplied(result.entry);
    else if (result.status === "duplicate") {
      report.duplicates[result.duplicateOf]++;
      if (result.entryId) report.replayedIds.push(result.entryId);
    } else if (result.reason.code.endsWith("below_zero")) report.refused++;
    else report.rejected.push(`${result.reason.code}: ${result.reason.message}`);
  }
}

/** Earlier consumes of this process, to retry some with the same key (a client's retry). */
const sent: { orgId: string; action: MeteredActionName; amount?: bigint; idempotencyKey: string }[] = [];

async function consumeOnce(n: number): Promise<void> {
  let request = sent.length > 0 && prng.chance(0.1) ? prng.pick(sent) : undefined;
  if (!request) {
    const { action, amount } = prng.pick(consumeActions);
    const bytes = METERED_ACTIONS[action].amountRequired ? BigInt(amount ?? prng.int(1, 2 ** 28)) : undefined;
    request = { orgId: prng.pick(consumeOrgs), action, amount: bytes, idempotencyKey: `${actor}-consume-${n}` };
    sent.push(request);
  }
  const tallyKey = `${request.orgId}|${request.action}`;
  const tally = (report.consumes[tallyKey] ??= { allowed: 0, denied: 0, replayed: 0 });
  try {
    const result = await entitlements.consume(request.orgId, request.action, {
      amount: request.amount,
      idempotencyKey: request.idempotencyKey,
      actor,
    });
    if (!result.allowed) {
      tally.denied++;
      return;
    }
    if (!result.entry) throw new Error(`consume allowed without a ledger entry: ${JSON.stringify(request)}`);
    if (result.replayed) {
      tally.replayed++;
      report.replayedIds.push(result.entry.id);
      return;
    }
    tally.allowed++;
    recordApplied(result.entry);
    // The action's extra metrics got a row each (no key, metadata.countsWith): counted, not listed by id.
    for (const metric of (METERED_ACTIONS[request.action] as MeteredAction).also ?? []) {
      recordApplied({ ...result.entry, metric, id: "" }, { listed: false });
    }
    if (METERED_ACTIONS[request.action].direction > 0 && result.limitKind === "hard") {
      report.cappedApplied++;
      if (result.limit == null || result.used == null || result.used > result.limit) {
        report.overLimit.push({ orgId: request.orgId, action: request.action, used: String(result.used), limit: String(result.limit) });
      }
    }
  } catch (error) {
    if (isBelowZero(error)) report.refused++;
    else throw error;
  }
}

const weights = { increment: config.mix.increment ?? 0, consume: config.mix.consume ?? 0, incrementMany: config.mix.incrementMany ?? 0 };
const totalWeight = weights.increment + weights.consume + weights.incrementMany;
function oneOperation(n: number): Promise<void> {
  const u = prng.next() * totalWeight;
  if (u < weights.increment) return incrementOnce();
  if (u < weights.increment + weights.consume) return consumeOnce(n);
  return incrementManyOnce();
}

// Connect the whole pool and load Prisma before "ready", so "go" starts every process at once.
await Promise.all(Array.from({ length: concurrency }, () => handle.pool.query("SELECT 1")));
await handle.prisma.$queryRaw`SELECT 1`;
process.stdout.write("ready\n");
const started = await new Promise<boolean>((resolve) => {
  process.stdin.once("data", () => resolve(true));
  process.stdin.once("end", () => resolve(false)); // the test gave up: never linger
});
process.stdin.destroy();
if (!started) {
  await handle.close();
  throw new Error("stdin closed before the start signal");
}

let next = 0;
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (next < config.ops) await oneOperation(next++);
  }),
);
await handle.close();
process.stdout.write(`${JSON.stringify(report)}\n`);
