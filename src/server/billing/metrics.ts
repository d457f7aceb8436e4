import type { CalendarWindow } from "./windows";

/**
 * The metrics, as data with no dependencies: the catalogue validates plans against them,
 * the policy, the usage writes and the pages follow from them, and client components (forms)
 * list them without pulling the catalogue and zod into the browser. Adding a metric is one
 * entry here (and its limit in each plan of the catalogue).
 */

/**
 * The window a period metric counts in: the org's billing period (its paid subscription's
 * period; without one, a calendar month on `fallback`'s anchor day and zone, UTC and the 1st
 * by default), or a calendar window of its own (`hour`, `day`, `week`, `month`).
 */
export type MetricWindow = { kind: "billing_period"; fallback?: Omit<CalendarWindow, "unit"> } | ({ kind: "calendar" } & CalendarWindow);

export type MetricDefinition =
  { kind: "gauge"; label: string; unit: string } | { kind: "period_counter"; label: string; unit: string; window: MetricWindow };

export const METRIC_DEFINITIONS = {
  members: { kind: "gauge", label: "Members", unit: "member" },
  teams: { kind: "gauge", label: "Teams", unit: "team" },
  storage_bytes: { kind: "gauge", label: "Storage", unit: "byte" },
  api_calls: { kind: "period_counter", label: "API calls", unit: "call", window: { kind: "billing_period" } },
  // Counted beside api_calls by the same action (actions.ts `also`): a burst limit per hour.
  api_calls_hourly: {
    kind: "period_counter",
    label: "API calls per hour",
    unit: "call",
    window: { kind: "calendar", unit: "hour", timeZone: "UTC" },
  },
  ai_requests: {
    kind: "period_counter",
    label: "AI requests",
    unit: "request",
    window: { kind: "calendar", unit: "day", timeZone: "UTC" },
  },
  exports: { kind: "period_counter", label: "Exports", unit: "export", window: { kind: "calendar", unit: "hour" } },
} as const satisfies Record<string, MetricDefinition>;

export type MetricName = keyof typeof METRIC_DEFINITIONS;
export const METRICS = Object.keys(METRIC_DEFINITIONS) as [MetricName, ...MetricName[]];

export function metricDefinition(metric: MetricName): MetricDefinition {
  return METRIC_DEFINITIONS[metric];
}
