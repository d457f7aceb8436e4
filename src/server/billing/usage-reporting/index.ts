export { REPORT_METERED_USAGE, METER_BINDINGS, UNREPORTED_REASONS } from "./outbox-sql";
export {
  reportUsage,
  MAX_INGEST_BATCH,
  DODO_INGEST_WINDOW_MS,
  INGEST_TIMEOUT_MS,
  type BatchOutcome,
  type IngestEvent,
  type ReportUsageOptions,
  type ReportUsageResult,
  type UsageIngestApi,
} from "./reporter";
export { startUsageReporting, type UsageReportingHandle } from "./interval";
