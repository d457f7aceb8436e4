/** Display helpers of the Webhooks and usage-reporting pages (no domain logic). */

/** 42 → "42 s", 200 → "3 min 20 s", 7500 → "2 h 5 min", 273600 → "3 d 4 h": the two largest units. */
export function formatAge(seconds: number): string {
  const units: [string, number][] = [
    ["d", 86_400],
    ["h", 3_600],
    ["min", 60],
    ["s", 1],
  ];
  let rest = Math.max(0, Math.floor(seconds));
  const parts: string[] = [];
  for (const [unit, size] of units) {
    const n = Math.floor(rest / size);
    rest -= n * size;
    if (n > 0 || (parts.length === 0 && size === 1)) parts.push(`${n} ${unit}`);
    if (parts.length === 2) break;
    // Only adjacent units: "2 h 5 min", never "2 h 5 s".
    if (parts.length === 1 && n === 0) break;
  }
  return parts.join(" ");
}

/** The webhook statuses staff filter by, in the order the page lists them. */
export const STATUS_LABELS: Record<string, string> = {
  received: "Received",
  processed: "Processed",
  ignored: "Ignored",
  failed: "Failed",
  needs_attention: "Needs attention",
};

/** Failed or needs attention: the overview's link and the page's first status tab. */
export const PROBLEMS_FILTER = "failed,needs_attention";

/** A pending row this old has used half of Dodo's 1-hour ingest window: shown as a problem. */
export const LAG_WARNING_SECONDS = 30 * 60;
