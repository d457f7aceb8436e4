/** Display helpers of the Backfill pages (no domain logic). */

export const MODE_LABELS: Record<string, string> = { dry_run: "Dry run", apply: "Apply", verify: "Verify" };

/** A run's name: "Dry run", "Apply run", "Verify run". */
export const runTitle = (mode: string) => (mode === "dry_run" ? "Dry run" : `${MODE_LABELS[mode] ?? mode} run`);

export const STATE_LABELS: Record<string, string> = {
  running: "Running",
  cancelling: "Stopping",
  interrupted: "Interrupted",
  completed: "Completed",
  failed: "Failed",
  cancelled: "Cancelled",
};

export const KIND_LABELS: Record<string, string> = {
  legacy_wrong: "Legacy JSON wrong",
  cache_wrong: "Cache wrong",
  ledger_missing: "Ledger missing",
  ledger_wrong: "Ledger wrong",
  both: "Several",
};

/** 42 → "42 s", 200 → "3 min 20 s", 7500 → "2 h 5 min": the two largest units, adjacent only. */
export function formatDuration(seconds: number): string {
  const units: [string, number][] = [
    ["h", 3_600],
    ["min", 60],
    ["s", 1],
  ];
  let rest = Math.max(0, Math.round(seconds));
  const parts: string[] = [];
  for (const [unit, size] of units) {
    const n = Math.floor(rest / size);
    rest -= n * size;
    if (n > 0 || (parts.length === 0 && size === 1)) parts.push(`${n} ${unit}`);
    if (parts.length === 2 || (parts.length === 1 && n === 0)) break;
  }
  return parts.join(" ");
}

const rate = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });

/** Organizations per second: "1,234", "12.5", "0.3". */
export const formatRate = (perSecond: number) => rate.format(perSecond >= 100 ? Math.round(perSecond) : perSecond);

/** Who and how the run is scoped: "all organizations" or "slugs starting s42-". */
export const scopeLabel = (orgPrefix: string | null) => (orgPrefix === null ? "All organizations" : `Slugs starting “${orgPrefix}”`);
