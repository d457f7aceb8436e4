import type { Cost, Latency } from "./measure";

/** Plain-text formatting for the bench's printed report: figures (counts, shares, ms, ✓/✗) and aligned tables. */

export const mark = (ok: boolean) => (ok ? "✓" : "✗");
export const int = (n: number | null | undefined) => (n === null || n === undefined ? "n/a" : Math.round(n).toLocaleString("en-US"));
export const pct = (part: number | null, whole: number) => (part === null ? "n/a" : `${((part / whole) * 100).toFixed(0)} %`);
export const ms = (n: number) => n.toFixed(3);

export function table(headers: string[], rows: string[][], align: string): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const cell = (text: string, i: number) => (align[i] === "r" ? text.padStart(widths[i] ?? 0) : text.padEnd(widths[i] ?? 0));
  const line = (cells: string[]) => cells.map(cell).join("  ").trimEnd();
  return [line(headers), line(widths.map((w) => "─".repeat(w))), ...rows.map(line)].join("\n");
}

export const costText = (c: Cost | null, digits = 2) => (c ? `${c.queriesPerOp.toFixed(1)} q · ${c.cpuMsPerOp.toFixed(digits)} ms` : "n/a");

export const latencyRow = (name: string, l: Latency, target = "") => [
  name,
  ms(l.p50),
  ms(l.p99),
  ms(l.mean),
  ms(l.max),
  String(l.n),
  target,
];
