export * from "./payloads";
export * from "./server";
export * from "./webhooks";
