export { REPORT_METERED_USAGE, METER_BINDINGS, UNREPORTED_REASONS } from "./outbox-sql";
export { reportUsage, type ReportUsageOptions, type ReportUsageResult } from "./reporter";
export { type BatchOutcome } from "./deliver-batch";
export { MAX_INGEST_BATCH, DODO_INGEST_WINDOW_MS, INGEST_TIMEOUT_MS, type IngestEvent, type UsageIngestApi } from "./ingest-events";
export { startUsageReporting, type UsageReportingHandle } from "./interval";
