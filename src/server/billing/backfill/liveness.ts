import { Prisma } from "@/server/db/client";
import type { Db } from "@/server/db/tx";

import type { RunStatus } from "./types";

/**
 * Whether a run that says `running` is alive. The process executing a run holds its
 * advisory lock (`backfill_run:<id>`, ./runs.ts `lockRun`) until it ends, and a process that
 * dies loses it at once; so a `running` run whose lock nobody holds was interrupted (a
 * killed CLI, a server that stopped mid-run) and can be resumed.
 *
 * This reads `pg_locks` instead of trying the lock (as `runIsExecuting` does): a read with
 * no side effect, for any number of runs in one statement, on any connection. A bigint
 * advisory key shows there as classid = its high 32 bits, objid = its low 32 bits, objsubid 1.
 *
 * One gap remains: between the row being written (with its audit entry) and the runner
 * taking the lock, in this process or another server's. A run updated within the last
 * STARTING_GRACE_SECONDS therefore still counts as alive.
 */
export const STARTING_GRACE_SECONDS = 15;

/** A run's status as staff should read it: `interrupted` is `running`/`cancelling` with nobody executing it. */
export const RUN_STATES = ["running", "cancelling", "interrupted", "completed", "failed", "cancelled"] as const;
export type RunState = (typeof RUN_STATES)[number];

export interface Liveness {
  /** Some backend of this database holds the run's advisory lock. */
  executing: boolean;
  /** Seconds since the run row last changed (database clock). */
  idleSeconds: number;
}

/** The liveness of the given runs, by id (runs not found are absent). */
export async function livenessOf(db: Db, runIds: readonly string[]): Promise<Map<string, Liveness>> {
  if (runIds.length === 0) return new Map();
  const rows = await db.$queryRaw<{ id: string; executing: boolean; idle_seconds: number }[]>(Prisma.sql`
    SELECT r.id::text AS id,
           EXISTS (
             SELECT 1 FROM pg_locks l
             WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
               AND l.classid::bigint = ((k.key >> 32) & 4294967295)
               AND l.objid::bigint = (k.key & 4294967295)
           ) AS executing,
           EXTRACT(EPOCH FROM (now() - r.updated_at))::float8 AS idle_seconds
    FROM backfill_runs r
    CROSS JOIN LATERAL (SELECT hashtextextended('backfill_run:' || r.id::text, 0) AS key) k
    WHERE r.id = ANY(${[...runIds]}::uuid[])`);
  return new Map(rows.map((r) => [r.id, { executing: r.executing, idleSeconds: Number(r.idle_seconds) }]));
}

/** See the module comment. `here`: this process is executing it (or about to). */
export function stateOf(status: RunStatus, liveness: Liveness | undefined, here: boolean): RunState {
  if (status !== "running" && status !== "cancelling") return status;
  if (here || liveness?.executing) return status;
  if (liveness && liveness.idleSeconds < STARTING_GRACE_SECONDS) return status;
  return "interrupted";
}

export const isLive = (state: RunState) => state === "running" || state === "cancelling";
