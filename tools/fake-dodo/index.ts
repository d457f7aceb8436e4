export * from "./payloads";
export * from "./server";
export * from "./webhooks";
export { MAX_INGEST_EVENTS, validateIngest, type IngestedEvent } from "./ingest-validation";
export type { FailureSpec } from "./failures";
export type { RequestLogEntry } from "./state";
