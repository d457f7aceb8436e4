/**
 * The metric names, with no dependencies: the catalogue validates against them, and client
 * components (forms) list them without pulling the catalogue and zod into the browser.
 */
export const METRICS = ["members", "teams", "storage_bytes", "api_calls"] as const;
export type MetricName = (typeof METRICS)[number];
