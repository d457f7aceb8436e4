import { METRICS } from "@/server/billing/metrics";

import { metricLabel } from "../_lib/metric-display";

/** A `<select>` of the catalogue's metrics by label (the value is the metric's name); `anyLabel` adds an empty "no filter" option first. */
export function MetricSelect({ id, defaultValue, anyLabel }: { id: string; defaultValue?: string; anyLabel?: string }) {
  return (
    <select id={id} name="metric" defaultValue={defaultValue ?? (anyLabel ? "" : METRICS[0])}>
      {anyLabel ? <option value="">{anyLabel}</option> : null}
      {METRICS.map((m) => (
        <option key={m} value={m}>
          {metricLabel(m)}
        </option>
      ))}
    </select>
  );
}
