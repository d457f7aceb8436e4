import { METRIC_DEFINITIONS, type MetricDefinition, type MetricName } from "@/server/billing/metrics";

import { formatBytes, formatCount } from "./format";

/**
 * How a metric reads on a page, from its catalogue entry (metrics.ts): its label, and its
 * amounts in its unit (bytes in binary units, anything else as a count). A page never names a
 * metric itself, so a metric added to the catalogue shows everywhere. A stored row's metric
 * may be missing from the catalogue (written by a newer deploy, or by an older one before a
 * metric was retired): it shows by its raw name, its amounts as plain counts.
 */

function definitionOf(metric: string): MetricDefinition | undefined {
  return Object.hasOwn(METRIC_DEFINITIONS, metric) ? METRIC_DEFINITIONS[metric as MetricName] : undefined;
}

/** True for a metric of the catalogue. */
export function isCatalogued(metric: string): metric is MetricName {
  return definitionOf(metric) !== undefined;
}

/** "API calls" for `api_calls`; the raw name for a metric the catalogue does not know. */
export function metricLabel(metric: string): string {
  return definitionOf(metric)?.label ?? metric;
}

const isBytes = (metric: string) => definitionOf(metric)?.unit === "byte";

/** How a chart scales its axis: binary units for bytes, compact counts otherwise. */
export function chartUnitOf(metric: string): "bytes" | "count" {
  return isBytes(metric) ? "bytes" : "count";
}

/** An amount in the metric's unit, without the unit's name: `3`, `1.5 KiB`, `-2 GiB`. */
export function formatAmount(metric: string, n: bigint): string {
  if (!isBytes(metric)) return formatCount(n);
  return n < 0n ? `-${formatBytes(-n)}` : formatBytes(n);
}

/** A signed delta in the metric's unit: `+2`, `-1`, `+1.5 KiB`. */
export function formatSignedAmount(metric: string, n: bigint): string {
  return n > 0n ? `+${formatAmount(metric, n)}` : formatAmount(metric, n);
}

/**
 * A signed amount with its unit's name, for places that list several metrics' numbers side
 * by side (totals): `+4 members`, `-1 call`, `+10 GiB`. A metric outside the catalogue has
 * no known unit: a plain signed count.
 */
export function formatSignedQuantity(metric: string, n: bigint): string {
  const definition = definitionOf(metric);
  const amount = formatSignedAmount(metric, n);
  if (!definition || definition.unit === "byte") return amount;
  return `${amount} ${n === 1n || n === -1n ? definition.unit : `${definition.unit}s`}`;
}
