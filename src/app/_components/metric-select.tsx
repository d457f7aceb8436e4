import { METRICS } from "@/server/billing/metrics";

/** A `<select>` of the metrics; `anyLabel` adds an empty "no filter" option first. */
export function MetricSelect({ id, defaultValue, anyLabel }: { id: string; defaultValue?: string; anyLabel?: string }) {
  return (
    <select id={id} name="metric" defaultValue={defaultValue ?? (anyLabel ? "" : METRICS[0])}>
      {anyLabel ? <option value="">{anyLabel}</option> : null}
      {METRICS.map((m) => (
        <option key={m} value={m}>
          {m}
        </option>
      ))}
    </select>
  );
}
