import { formatAmount, metricLabel } from "../_lib/metric-display";

/** A metric's usage against its limit: striped for a soft limit, amber at it, red over it. */
export function UsageBar({
  metric,
  count,
  limit,
  limitKind,
  label,
}: {
  metric: string;
  count: bigint;
  limit: bigint | null;
  limitKind: string;
  label?: string;
}) {
  const name = label ?? metricLabel(metric);
  if (limit === null) return <div className="bar bar-unlimited" aria-hidden="true" />;
  const over = count > limit;
  const atLimit = count >= limit;
  const percent = limit === 0n ? (count > 0n ? 100 : 0) : Math.min(100, Number((count * 1000n) / limit) / 10);
  return (
    <div
      className={`bar bar-${limitKind}${over ? " bar-over" : atLimit ? " bar-full" : ""}`}
      role="meter"
      aria-label={`${name} used`}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={percent}
      aria-valuetext={`${formatAmount(metric, count)} of ${formatAmount(metric, limit)}`}
    >
      <span style={{ width: `${percent}%` }} />
    </div>
  );
}
