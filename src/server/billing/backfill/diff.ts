import { BACKFILL_METRICS, type DiffKind, type DiffRow, type MetricState, type OrgState } from "./types";

/**
 * The comparison at the heart of the backfill, pure so it is easy to trust:
 * - legacy wrong: the legacy JSONB value (absent → 0) differs from the old count (only when
 *   the column still exists);
 * - cache wrong: the cache differs from SUM(ledger) — invariant 1 broken, repaired first;
 * - ledger missing / wrong: SUM(ledger) differs from the old count (no ledger rows at all /
 *   some rows) — fixed by one `migration` row of delta = old count − SUM(ledger).
 */
export interface Classified {
  legacyWrong: boolean;
  cacheWrong: boolean;
  ledgerWrong: boolean;
  /** The billing side (cache or ledger) needs a write. */
  billingWrong: boolean;
  kind: DiffKind | null;
  /** old count − SUM(ledger): the migration row to write (0n: none). */
  delta: bigint;
}

export function classify(state: MetricState, legacyColumn: boolean): Classified {
  const cache = state.cache ?? 0n;
  const legacyWrong = legacyColumn && (state.legacyValue ?? 0n) !== state.oldCount;
  const cacheWrong = cache !== state.ledgerSum;
  const ledgerWrong = state.ledgerSum !== state.oldCount;
  const flags: DiffKind[] = [];
  if (legacyWrong) flags.push("legacy_wrong");
  if (cacheWrong) flags.push("cache_wrong");
  if (ledgerWrong) flags.push(state.ledgerRows === 0 ? "ledger_missing" : "ledger_wrong");
  return {
    legacyWrong,
    cacheWrong,
    ledgerWrong,
    billingWrong: cacheWrong || ledgerWrong,
    kind: flags.length === 0 ? null : flags.length === 1 ? (flags[0] as DiffKind) : "both",
    delta: state.oldCount - state.ledgerSum,
  };
}

/** True when cache == SUM(ledger) == old count for every gauge of the org. */
export function orgConsistent(org: OrgState): boolean {
  return BACKFILL_METRICS.every((metric) => !classify(org.metrics[metric], false).billingWrong);
}

/**
 * The diff rows for an org. `includeLegacyOnly`: also report pairs whose only fault is the
 * legacy JSONB (a dry run's full report); `applied`: what this run wrote, per metric.
 */
export function diffRows(org: OrgState, legacyColumn: boolean, options: { includeLegacyOnly: boolean; applied?: boolean }): DiffRow[] {
  const rows: DiffRow[] = [];
  for (const metric of BACKFILL_METRICS) {
    const state = org.metrics[metric];
    const c = classify(state, legacyColumn);
    if (c.kind === null || (!c.billingWrong && !options.includeLegacyOnly)) continue;
    rows.push({
      orgId: org.orgId,
      metric,
      kind: c.kind,
      legacyWrong: c.legacyWrong,
      cacheWrong: c.cacheWrong,
      ledgerWrong: c.ledgerWrong,
      legacyValue: state.legacyValue,
      oldCount: state.oldCount,
      cacheBefore: state.cache,
      ledgerBefore: state.ledgerSum,
      deltaApplied: options.applied ? c.delta : 0n,
      cacheRepaired: options.applied === true && c.cacheWrong,
    });
  }
  return rows;
}

/** The report rows as the 12 column arrays the `unnest(…)` inserts of `backfill_diffs` take. */
export function diffColumns(rows: readonly DiffRow[]): unknown[] {
  return [
    rows.map((r) => r.orgId),
    rows.map((r) => r.metric),
    rows.map((r) => r.kind),
    rows.map((r) => r.legacyWrong),
    rows.map((r) => r.cacheWrong),
    rows.map((r) => r.ledgerWrong),
    rows.map((r) => r.legacyValue?.toString() ?? null),
    rows.map((r) => r.oldCount.toString()),
    rows.map((r) => r.cacheBefore?.toString() ?? null),
    rows.map((r) => r.ledgerBefore.toString()),
    rows.map((r) => r.deltaApplied.toString()),
    rows.map((r) => r.cacheRepaired),
  ];
}
