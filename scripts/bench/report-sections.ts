import type { BackfillBenchResult } from "./backfill";
import type { ThroughputRow } from "./results";
import { TARGETS } from "./targets";
import { costText, int, mark, pct, table } from "./text-table";

/** The report's widest tables: throughput and cost per op (sections 1 and 2), and the backfill section (7). */

const VARIANTS = ["lean", "next"] as const;

export function throughputTable(rows: ThroughputRow[], hot = false): string {
  return table(
    [
      "op",
      "clients",
      "bare pg",
      "pgbench",
      "svc SQL",
      "sql/pg",
      "service",
      "svc/pg",
      "HTTP in-proc",
      "http/pg",
      "⇄ lean",
      "lean/pg",
      "⇄ next",
      "next/pg",
      "target",
    ],
    rows.map((r) => {
      const lean = r.remote.lean ?? null;
      const target =
        r.op === "consume" && r.clients === 8 && !hot
          ? `svc ≥ 70 % ${mark(r.service / r.baseline >= TARGETS.serviceConsume)}` +
            (lean === null ? "" : `, ⇄ lean ≥ 40 % ${mark(lean / r.baseline >= TARGETS.httpConsume)}`)
          : "";
      return [
        r.op,
        hot ? `${r.clients} (1 org)` : String(r.clients),
        int(r.baseline),
        int(r.pgbench),
        int(r.serviceSql),
        pct(r.serviceSql, r.baseline),
        int(r.service),
        pct(r.service, r.baseline),
        int(r.http),
        pct(r.http, r.baseline),
        ...VARIANTS.flatMap((v) => [int(r.remote[v]), pct(r.remote[v] ?? null, r.baseline)]),
        target,
      ];
    }),
    "lrrrrrrrrrrrrrl",
  );
}

export function costTable(rows: ThroughputRow[], hot = false): string {
  const remote = (r: ThroughputRow, v: (typeof VARIANTS)[number]) => {
    const c = r.remoteCost[v];
    return c ? `${c.serverCpuMsPerOp.toFixed(2)} · ${c.clientCpuMsPerOp.toFixed(2)} ms` : "n/a";
  };
  return table(
    ["op", "clients", "bare pg", "svc SQL", "service", "HTTP in-proc", "⇄ lean: server · client", "⇄ next: server · client"],
    rows.map((r) => [
      r.op,
      hot ? `${r.clients} (1 org)` : String(r.clients),
      costText(r.cost.baseline),
      costText(r.cost.serviceSql),
      costText(r.cost.service),
      costText(r.cost.http),
      remote(r, "lean"),
      remote(r, "next"),
    ]),
    "lrrrrrrr",
  );
}

export function backfillSection(b: BackfillBenchResult): string[] {
  const seconds = (ms: number) => (ms / 1000).toFixed(2);
  return [
    `7. Backfill --apply: ${int(b.orgs)} legacy orgs (${int(b.members)} members, ${int(b.teams)} teams, ${int(b.files)} files; no ledger, legacy JSONB present), seeded in ${b.seedSeconds.toFixed(1)} s; server jit=${b.jit}`,
    `   baseline: ONE INSERT … SELECT … GROUP BY of the same counts into a scratch table, on the same copy, median of ${b.baseline.runsMs.length} runs (${b.baseline.runsMs.map((ms) => ms.toFixed(0)).join(" / ")} ms)`,
    table(
      ["variant", "s", "orgs/s", "of baseline (same copy)", "migration rows", "--verify s", "left", "target"],
      [
        ["baseline: INSERT … SELECT … GROUP BY", seconds(b.baseline.ms), int(b.baseline.orgsPerSec), "100 %", "", "", "", ""],
        ...b.variants.map((v) => [
          `apply, ${v.name}`,
          seconds(v.ms),
          int(v.orgsPerSec),
          `${pct(v.share, 1)} of ${int((b.orgs / v.baselineMs) * 1000)}`,
          int(v.migrationRows),
          seconds(v.verifyMs),
          String(v.verifyRemaining ?? "?"),
          `≥ ${TARGETS.backfillShare * 100} % ${mark(v.share >= TARGETS.backfillShare)}`,
        ]),
        [
          "set-based floor: the same writes, plain SQL, 1 transaction",
          seconds(b.writeFloor.ms),
          int(b.writeFloor.orgsPerSec),
          pct(b.writeFloor.share, 1),
          "",
          "",
          "",
          "",
        ],
      ],
      "lrrrrrrl",
    ),
  ];
}
