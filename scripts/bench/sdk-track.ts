import type pg from "pg";

import type { RemoteClient, RemoteServer } from "./remote";
import { orgIdSql, SPREAD_ORGS } from "./setup";

/**
 * The SDK's buffered `track()` as the product app runs it (issue #17): the client package in
 * the client process, the real server (lean path) in its own, `events` api_calls over the 200
 * spread orgs, timed until close() has every event confirmed. Exact, not just fast: the
 * ledger's api_calls over those orgs must grow by exactly `events`, and the tracker must have
 * seen exactly that many confirmed (the invariant cache == SUM(ledger) is checked after, as
 * after every workload).
 */

export interface SdkTrackResult {
  events: number;
  seconds: number;
  eventsPerSec: number;
  /** What the ledger gained for api_calls over the spread orgs, and what the tracker saw confirmed. */
  ledgerGain: number;
  confirmed: number;
  allSent: boolean;
  exact: boolean;
  serverCpuMsPerEvent: number;
  clientCpuMsPerEvent: number;
}

async function apiCallsInLedger(pool: pg.Pool): Promise<bigint> {
  const { rows } = await pool.query<{ total: string }>(
    `SELECT COALESCE(SUM(delta), 0)::text AS total FROM usage_ledger
     WHERE metric = 'api_calls' AND org_id IN (SELECT ${orgIdSql("g")} FROM generate_series(1, $1::int) g)`,
    [SPREAD_ORGS],
  );
  return BigInt(rows[0]?.total ?? "0");
}

export async function sdkTrack(
  pool: pg.Pool,
  client: RemoteClient,
  server: RemoteServer,
  apiKey: string,
  events: number,
): Promise<SdkTrackResult> {
  const before = await apiCallsInLedger(pool);
  const run = await client.track(server, apiKey, events);
  const ledgerGain = Number((await apiCallsInLedger(pool)) - before);
  const confirmed = Number(run.confirmed);
  return {
    events,
    seconds: run.seconds,
    eventsPerSec: events / run.seconds,
    ledgerGain,
    confirmed,
    allSent: run.allSent,
    exact: run.allSent && ledgerGain === events && confirmed === events,
    serverCpuMsPerEvent: run.serverCpuMs / events,
    clientCpuMsPerEvent: run.clientCpuMs / events,
  };
}
