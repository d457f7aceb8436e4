import { writeFile } from "node:fs/promises";

import type { BackfillBenchResult, BackfillVariantResult } from "./backfill";
import type { Cost, Latency } from "./measure";
import type { BenchResults, Target, ThroughputRow } from "./results";

/** The targets, the printed table, and the JSON file. */

const mark = (ok: boolean) => (ok ? "✓" : "✗");
const int = (n: number | null | undefined) => (n === null || n === undefined ? "n/a" : Math.round(n).toLocaleString("en-US"));
const pct = (part: number | null, whole: number) => (part === null ? "n/a" : `${((part / whole) * 100).toFixed(0)} %`);
const ms = (n: number) => n.toFixed(3);

export const TARGETS = {
  serviceConsume: 0.7,
  httpConsume: 0.4,
  batchEventsPerSec: 100_000,
  httpCheckP99Ms: 5,
  flatness: 0.2,
  speedUp: 20,
  ledgerPageMs: 50,
  backfillShare: 0.5,
} as const;

export function evaluateTargets(results: BenchResults): Target[] {
  const targets: Target[] = [];
  const at8 = results.throughput.find((r) => r.op === "consume" && r.clients === 8);
  if (at8) {
    const s = at8.service / at8.baseline;
    targets.push({
      name: "service consume, 8 clients",
      figure: `${(s * 100).toFixed(0)} % of bare pg`,
      target: `≥ ${TARGETS.serviceConsume * 100} %`,
      met: s >= TARGETS.serviceConsume,
    });
    if (at8.http !== null) {
      const h = at8.http / at8.baseline;
      targets.push({
        name: "HTTP consume, 8 clients",
        figure: `${(h * 100).toFixed(0)} % of bare pg`,
        target: `≥ ${TARGETS.httpConsume * 100} %`,
        met: h >= TARGETS.httpConsume,
      });
    }
  }
  if (results.batch) {
    const b = results.batch.service;
    targets.push({
      name: "batched ingest (incrementMany), service",
      figure: `${int(b)} events/s`,
      target: `≥ ${int(TARGETS.batchEventsPerSec)} events/s`,
      met: b >= TARGETS.batchEventsPerSec,
    });
  }
  if (results.check) {
    const p99 = results.check.http.p99;
    targets.push({
      name: "check p99 over HTTP",
      figure: `${ms(p99)} ms`,
      target: `≤ ${TARGETS.httpCheckP99Ms} ms`,
      met: p99 <= TARGETS.httpCheckP99Ms,
    });
  }
  if (results.orgSize) {
    const { flatness, speedUp } = results.orgSize;
    targets.push({
      name: "check flat in org size (100 000 ÷ 10 members, p50)",
      figure: `×${flatness.toFixed(2)}`,
      target: `within ${TARGETS.flatness * 100} %`,
      met: Math.abs(flatness - 1) <= TARGETS.flatness,
    });
    targets.push({
      name: "check vs old way at 100 000 members (p50)",
      figure: `${speedUp.toFixed(1)}× faster`,
      target: `≥ ${TARGETS.speedUp}×`,
      met: speedUp >= TARGETS.speedUp,
    });
  }
  if (results.ledgerPages) {
    const l = results.ledgerPages;
    const worst = Math.max(l.first.p99, l.deep.p99, l.byOrg.p99, l.rareReason.p99);
    targets.push({
      name: `ledger page at ${int(l.ledgerRows)} rows (worst p99)`,
      figure: `${ms(worst)} ms`,
      target: `< ${TARGETS.ledgerPageMs} ms`,
      met: worst < TARGETS.ledgerPageMs,
    });
  }
  if (results.backfill) {
    const best = bestBackfillVariant(results.backfill);
    targets.push({
      name: `backfill --apply of ${int(results.backfill.orgs)} legacy orgs (best settings: ${best.name})`,
      figure: `${int(best.orgsPerSec)} orgs/s = ${(best.share * 100).toFixed(0)} % of one INSERT … SELECT … GROUP BY`,
      target: `≥ ${TARGETS.backfillShare * 100} %`,
      met: best.share >= TARGETS.backfillShare,
    });
  }
  const drift = results.invariants.reduce((sum, i) => sum + i.driftRows, 0);
  targets.push({
    name: "invariant cache == SUM(ledger) after every workload",
    figure: `${drift} drift rows`,
    target: "0",
    met: drift === 0,
  });
  return targets;
}

function table(headers: string[], rows: string[][], align: string): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const cell = (text: string, i: number) => (align[i] === "r" ? text.padStart(widths[i] ?? 0) : text.padEnd(widths[i] ?? 0));
  const line = (cells: string[]) => cells.map(cell).join("  ").trimEnd();
  return [line(headers), line(widths.map((w) => "─".repeat(w))), ...rows.map(line)].join("\n");
}

function throughputTable(rows: ThroughputRow[], hot = false): string {
  return table(
    ["op", "clients", "bare pg", "pgbench", "service", "svc/pg", "HTTP", "http/pg", "target"],
    rows.map((r) => {
      const target =
        r.op === "consume" && r.clients === 8 && !hot
          ? `svc ≥ 70 % ${mark(r.service / r.baseline >= TARGETS.serviceConsume)}` +
            (r.http === null ? "" : `, http ≥ 40 % ${mark(r.http / r.baseline >= TARGETS.httpConsume)}`)
          : "";
      return [
        r.op,
        hot ? `${r.clients} (1 org)` : String(r.clients),
        int(r.baseline),
        int(r.pgbench),
        int(r.service),
        pct(r.service, r.baseline),
        int(r.http),
        pct(r.http, r.baseline),
        target,
      ];
    }),
    "lrrrrrrrl",
  );
}

const costText = (c: Cost | null, digits = 2) => (c ? `${c.queriesPerOp.toFixed(1)} q · ${c.cpuMsPerOp.toFixed(digits)} ms` : "n/a");

function costTable(rows: ThroughputRow[], hot = false): string {
  return table(
    ["op", "clients", "bare pg", "service", "HTTP"],
    rows.map((r) => [
      r.op,
      hot ? `${r.clients} (1 org)` : String(r.clients),
      costText(r.cost.baseline),
      costText(r.cost.service),
      costText(r.cost.http),
    ]),
    "lrrrr",
  );
}

const latencyRow = (name: string, l: Latency, target = "") => [name, ms(l.p50), ms(l.p99), ms(l.mean), ms(l.max), String(l.n), target];

export function renderReport(results: BenchResults): string {
  const { meta } = results;
  const out: string[] = [];
  const load = (l: number[] | undefined) => (l ? l.map((x) => x.toFixed(2)).join(" ") : "?");
  out.push(
    `Billing bench (${meta.profile}) — ${meta.startedAt}, ${meta.seconds?.toFixed(0) ?? "?"} s`,
    `node ${meta.node}, ${meta.cpus} CPUs, load average ${load(meta.loadAverage.start)} → ${load(meta.loadAverage.end)}`,
    `PostgreSQL ${meta.postgres} — ${meta.database}; ${meta.pgbench ?? "pgbench: not available"}`,
    "",
  );
  if (results.throughput.length) {
    const p = meta.settings;
    out.push(
      `1. Single ops over 200 enterprise orgs (ops/s; svc/pg and http/pg = share of bare pg at the same concurrency)`,
      `   ${p.rounds} rounds × ${p.roundMs} ms per variant, variants interleaved; pgbench ${p.pgbenchRounds} × ${p.pgbenchSeconds} s, -M prepared; the service and bare pg use prepared statements too`,
    );
    out.push(throughputTable(results.throughput), "");
  }
  if (results.hotRow) {
    out.push("2. Hot row: every client consumes on ONE org (ops/s)");
    out.push(throughputTable([results.hotRow], true), "");
  }
  if (results.throughput.length || results.hotRow) {
    out.push("Cost per op in this process: SQL round trips (q) · CPU ms of this Node process (client and server side together)");
    out.push(costTable([...results.throughput, ...(results.hotRow ? [results.hotRow] : [])]), "");
  }
  if (results.batch) {
    const b = results.batch;
    out.push(
      `3. Batched ingest: ${b.batches} × ${int(b.batchSize)}-event incrementMany over ${b.orgs} orgs, unique keys, one client (events/s)`,
    );
    out.push(
      table(
        ["", "bare pg (1 statement)", "service", "svc/pg", "target"],
        [
          [
            "events/s",
            int(b.baseline),
            int(b.service),
            pct(b.service, b.baseline),
            `≥ ${int(TARGETS.batchEventsPerSec)} ${mark(b.service >= TARGETS.batchEventsPerSec)}`,
          ],
          ["per batch: q · CPU", costText(b.cost.baseline, 1), costText(b.cost.service, 1), "", ""],
        ],
        "lrrrl",
      ),
      "",
    );
  }
  if (results.check) {
    const c = results.check;
    out.push(`4. check latency, one client, ${int(c.calls)} calls after warm-up (ms)`);
    out.push(
      table(
        ["variant", "p50", "p99", "mean", "max", "n", "target"],
        [
          latencyRow("bare pg: policy read", c.baseline),
          ...(c.pgbench ? [latencyRow("pgbench: policy read", c.pgbench)] : []),
          latencyRow("service, in-process", c.service),
          latencyRow("typed client over HTTP", c.http, `p99 ≤ ${TARGETS.httpCheckP99Ms} ms ${mark(c.http.p99 <= TARGETS.httpCheckP99Ms)}`),
        ],
        "lrrrrrl",
      ),
      "",
    );
  }
  if (results.orgSize) {
    const o = results.orgSize;
    out.push(`5. check vs org size (service in-process, ${int(o.calls)} calls each; old way ${int(o.oldWayCalls)} calls each) (ms)`);
    out.push(
      table(
        ["org", "check p50", "check p99", "old way p50", "old way p99", "old ÷ check (p50)"],
        (["small", "big"] as const).map((k) => [
          `${int(o.members[k])} members, ${int(o.files[k])} files`,
          ms(o.service[k].p50),
          ms(o.service[k].p99),
          ms(o.oldWay[k].p50),
          ms(o.oldWay[k].p99),
          `${(o.oldWay[k].p50 / o.service[k].p50).toFixed(1)}×`,
        ]),
        "lrrrrr",
      ),
      `flatness (100 000 ÷ 10 members, check p50): ×${o.flatness.toFixed(2)} ${mark(Math.abs(o.flatness - 1) <= TARGETS.flatness)} (within 20 %)` +
        ` · speed-up vs the old way at 100 000 members: ${o.speedUp.toFixed(1)}× ${mark(o.speedUp >= TARGETS.speedUp)} (≥ 20×)`,
      "",
    );
  }
  if (results.ledgerPages) {
    const l = results.ledgerPages;
    out.push(
      `6. Ledger page for finance: ${int(l.ledgerRows)} ledger rows, ${l.pageSize} per page, keyset, ${int(l.calls)} loads each (server time, ms)`,
    );
    out.push(
      table(
        ["page", "p50", "p99", "max", "target"],
        (
          [
            ["newest", l.first],
            ["middle of the history", l.deep],
            ["one org, middle", l.byOrg],
            ["rare reason, middle", l.rareReason],
          ] as const
        ).map(([name, t]) => [name, ms(t.p50), ms(t.p99), ms(t.max), `< ${TARGETS.ledgerPageMs} ms ${mark(t.p99 < TARGETS.ledgerPageMs)}`]),
        "lrrrl",
      ),
      "",
    );
  }
  if (results.backfill) out.push(...backfillSection(results.backfill), "");
  out.push("Invariant after each workload: usage.verify() — cache == SUM(ledger) for every (org, metric); after a backfill, its --verify");
  out.push(
    table(
      ["after", "drift rows", "ledger rows"],
      results.invariants.map((i) => [i.after, `${i.driftRows} ${mark(i.driftRows === 0)}`, int(i.ledgerRows)]),
      "lrr",
    ),
    "",
  );
  out.push("Targets");
  out.push(
    table(
      ["", "target", "figure", ""],
      results.targets.map((t) => [t.name, t.target, t.figure, mark(t.met)]),
      "lrrl",
    ),
  );
  return out.join("\n");
}

export async function writeJson(file: string, results: BenchResults): Promise<void> {
  await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
}

const bestBackfillVariant = (b: BackfillBenchResult): BackfillVariantResult =>
  b.variants.reduce((best, v) => (v.orgsPerSec > best.orgsPerSec ? v : best));

function backfillSection(b: BackfillBenchResult): string[] {
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
