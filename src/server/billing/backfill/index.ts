/** The backfill: moving an existing database onto the ledger, resumably, under live traffic. */
export { applyOrg, applyOrgs, BackfillError, migrationActor, migrationKey, type ApplyResult } from "./apply";
export { CSV_COLUMNS, writeDiffCsv } from "./csv";
export { classify, diffRows, orgConsistent, type Classified } from "./diff";
export { legacyColumnExists, measureOrgs, type Queryable } from "./measure";
export {
  BACKFILL_SERVER_OPTIONS,
  countMismatches,
  DEFAULT_BATCH_SIZE,
  DEFAULT_CONCURRENCY,
  DEFAULT_ORGS_PER_TRANSACTION,
  runBackfill,
  type BackfillOptions,
  type BackfillResult,
} from "./runner";
export { findResumable, requestCancel, runIsExecuting, type RunRecord } from "./runs";
export * from "./types";
