/** The gauges the backfill reconciles. `api_calls` has no old-count source, so it is left alone. */
export const BACKFILL_METRICS = ["members", "teams", "storage_bytes"] as const;
export type BackfillMetric = (typeof BACKFILL_METRICS)[number];

export const BACKFILL_MODES = ["dry_run", "apply", "verify"] as const;
export type BackfillMode = (typeof BACKFILL_MODES)[number];

/** `cancelling`: a stop was requested from outside (e.g. the dashboard); the run stops after its batch. */
export const RUN_STATUSES = ["running", "cancelling", "completed", "failed", "cancelled"] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export const DIFF_KINDS = ["legacy_wrong", "cache_wrong", "ledger_missing", "ledger_wrong", "both"] as const;
export type DiffKind = (typeof DIFF_KINDS)[number];

/** What one consistent snapshot says about one (org, metric). */
export interface MetricState {
  /** COUNT(members) / COUNT(teams) / SUM(stored_files.size_bytes): the "slow" truth. */
  oldCount: bigint;
  /** `organizations.usage ->> metric` as a whole number; null when absent, not a number, or the column is gone. */
  legacyValue: bigint | null;
  /** The cache row's count; null when there is no cache row (reads as 0). */
  cache: bigint | null;
  /** SUM(usage_ledger.delta). */
  ledgerSum: bigint;
  /** How many ledger rows that sum has (0: the ledger knows nothing of this metric yet). */
  ledgerRows: number;
}

export interface OrgState {
  orgId: string;
  metrics: Record<BackfillMetric, MetricState>;
}

/** One row of the diff report. */
export interface DiffRow {
  orgId: string;
  metric: BackfillMetric;
  kind: DiffKind;
  legacyWrong: boolean;
  cacheWrong: boolean;
  ledgerWrong: boolean;
  legacyValue: bigint | null;
  oldCount: bigint;
  cacheBefore: bigint | null;
  ledgerBefore: bigint;
  deltaApplied: bigint;
  cacheRepaired: boolean;
}

export interface RunTotals {
  orgsScanned: number;
  mismatches: number;
  legacyMismatches: number;
  deltasApplied: number;
  cacheRepairs: number;
}

export const emptyTotals = (): RunTotals => ({
  orgsScanned: 0,
  mismatches: 0,
  legacyMismatches: 0,
  deltasApplied: 0,
  cacheRepairs: 0,
});
