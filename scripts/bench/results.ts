import type { AlertCostResult } from "./alert-cost";
import type { BackfillBenchResult } from "./backfill";
import type { LedgerPagesResult } from "./ledger-pages";
import type { Cost, Latency } from "./measure";
import type { Profile } from "./options";
import type { PartitionCostResult } from "./partition-cost";
import type { RemoteLatency, ServerVariant } from "./remote";
import type { SdkTrackResult } from "./sdk-track";

/** The figures of one run: what the table prints and `--json` writes. */

/** What one call costs the real server and the client process, per call (CPU ms). */
export interface RemoteCost {
  serverCpuMsPerOp: number;
  clientCpuMsPerOp: number;
}

export interface ThroughputRow {
  op: "consume" | "increment" | "check";
  clients: number;
  /** ops/s */
  baseline: number;
  pgbench: number | null;
  /** The service's own statements on the bare pool, without its code (service-sql.ts); null for increment. */
  serviceSql: number | null;
  service: number;
  http: number | null;
  /** ops/s of the typed client in ANOTHER process against the real server, per way in (remote.ts). */
  remote: Partial<Record<ServerVariant, number>>;
  remoteCost: Partial<Record<ServerVariant, RemoteCost>>;
  /** consume answers that were denials (expected: 0 on the enterprise plan). */
  denied: number;
  /** Round trips and this process's CPU per op, per variant. */
  cost: { baseline: Cost; serviceSql: Cost | null; service: Cost; http: Cost | null };
}

export interface BatchResult {
  batchSize: number;
  batches: number;
  orgs: number;
  /** events/s */
  baseline: number;
  service: number;
  /** Per BATCH: round trips and this process's CPU. */
  cost: { baseline: Cost; service: Cost };
}

export interface CheckLatency {
  calls: number;
  baseline: Latency;
  pgbench: Latency | null;
  service: Latency;
  http: Latency;
  /** check and consume, one client in another process, sequential calls, per server variant. */
  remote: Partial<Record<ServerVariant, { check: RemoteLatency; consume: RemoteLatency }>>;
}

export interface OrgSizeLatency {
  calls: number;
  oldWayCalls: number;
  members: { small: number; big: number };
  files: { small: number; big: number };
  service: { small: Latency; big: Latency };
  oldWay: { small: Latency; big: Latency };
  /** service p50 at the big org ÷ at the small org (1.0 = perfectly flat). */
  flatness: number;
  /** old way p50 ÷ service p50, at the big org. */
  speedUp: number;
}

export interface InvariantCheck {
  after: string;
  driftRows: number;
  ledgerRows: number;
}

export interface Target {
  name: string;
  figure: string;
  target: string;
  met: boolean;
}

export interface BenchResults {
  meta: {
    profile: string;
    settings: Profile;
    startedAt: string;
    finishedAt?: string;
    seconds?: number;
    node: string;
    cpus: number;
    loadAverage: { start: number[]; end?: number[] };
    database: string;
    postgres: string;
    pgbench: string | null;
  };
  throughput: ThroughputRow[];
  hotRow?: ThroughputRow;
  alertCost?: AlertCostResult;
  partitionCost?: PartitionCostResult;
  ledgerPages?: LedgerPagesResult;
  batch?: BatchResult;
  sdkTrack?: SdkTrackResult;
  check?: CheckLatency;
  orgSize?: OrgSizeLatency;
  backfill?: BackfillBenchResult;
  invariants: InvariantCheck[];
  targets: Target[];
}
