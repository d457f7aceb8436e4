import type { ReactNode } from "react";

import type { Action, Metric } from "../catalogue";
import { useEntitlement, useUsage } from "./hooks";

/**
 * Two small components built on the hooks, as examples to copy or use: a usage meter and an
 * upgrade prompt. Unstyled but for class names (`billing-meter`, `billing-upgrade`).
 */

const BINARY_UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];

/** Bytes in binary units (storage), counts with digit grouping; exact for any bigint. */
export function formatAmount(metric: Metric, value: bigint): string {
  if (metric !== "storage_bytes") return value.toLocaleString("en-US");
  let unit = 0;
  let scaled = value;
  while (scaled >= 1024n * 10n && unit < BINARY_UNITS.length - 1) {
    scaled /= 1024n;
    unit++;
  }
  return `${scaled.toLocaleString("en-US")} ${BINARY_UNITS[unit]}`;
}

export interface UsageMeterProps {
  metric: Metric;
  label?: string;
}

/** "API calls: 1,234 of 10,000" with a meter; "unlimited" when there is no limit. */
export function UsageMeter({ metric, label }: UsageMeterProps) {
  const usage = useUsage();
  const figures = usage.metric(metric);
  const name = label ?? metric;
  if (!figures) {
    return (
      <div className="billing-meter" data-metric={metric} aria-busy={usage.loading}>
        {name}: {usage.error ? "unavailable" : "…"}
      </div>
    );
  }
  const used = formatAmount(metric, figures.used);
  const limit = figures.limit === null ? null : figures.limit;
  // A limit of 0 is full from the start (nothing is allowed), not empty.
  const ratio = limit === null ? 0 : limit === 0n ? 1 : Number((figures.used * 1000n) / limit) / 1000;
  return (
    <div className="billing-meter" data-metric={metric} data-used={figures.used.toString()}>
      <span>
        {name}: {used} {limit === null ? "(unlimited)" : `of ${formatAmount(metric, limit)}`}
      </span>
      {limit !== null && <meter min={0} max={1} low={0.8} high={0.99} value={Math.min(ratio, 1)} aria-label={`${name} used`} />}
    </div>
  );
}

export interface UpgradePromptProps {
  action: Action;
  /** Shown when the action is allowed. */
  children: ReactNode;
  /** Where the upgrade button goes (default `/billing`). */
  upgradeHref?: string;
}

/**
 * Renders `children` when `action` is allowed; a denial shows why, and a way to upgrade. An
 * outage (the proxy failed, or the answer is a client fallback) is not a plan limit: it says
 * billing is unavailable and offers no upgrade.
 */
export function UpgradePrompt({ action, children, upgradeHref = "/billing" }: UpgradePromptProps) {
  const { allowed, decision, loading, error } = useEntitlement(action);
  if (loading && allowed === undefined) return null;
  if (allowed) return <>{children}</>;
  if (!decision || decision.fallback) {
    return (
      <div className="billing-unavailable" role="status" data-action={action}>
        <p>Billing is unavailable right now{error ? ` (${error.message})` : ""}; try again shortly.</p>
      </div>
    );
  }
  return (
    <div className="billing-upgrade" role="status" data-action={action}>
      <p>{decision.allowed ? "" : decision.reason.message}</p>
      <a href={upgradeHref}>Upgrade</a>
    </div>
  );
}
