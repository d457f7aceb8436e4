import { isCatalogued, metricLabel } from "../_lib/metric-display";

/**
 * A metric in a table: its catalogue label, with the stored name on hover; a metric the
 * catalogue does not know shows its raw name, marked as such.
 */
export function MetricName({ metric }: { metric: string }) {
  if (!isCatalogued(metric)) {
    return (
      <span className="muted" title="Not in this deploy's metric catalogue" data-metric={metric}>
        {metric}
      </span>
    );
  }
  return (
    <span title={metric} data-metric={metric}>
      {metricLabel(metric)}
    </span>
  );
}
