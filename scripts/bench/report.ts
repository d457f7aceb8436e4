import { writeFile } from "node:fs/promises";

import { backfillSection, costTable, throughputTable } from "./report-sections";
import type { BenchResults } from "./results";
import { TARGETS } from "./targets";
import { costText, int, latencyRow, mark, ms, pct, table } from "./text-table";

/** The bench's report: the printed text, section by section, and the JSON file. */

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
      `   consume = consume("api.call"), which counts TWO metrics (api_calls, api_calls_hourly): bare pg does the same work (policy read + ONE statement writing both ledger rows and cache rows, baseline.ts); the service runs the policy read + ONE statement that also resets windows and decides alerts (consume-several-sql.ts)`,
    );
    out.push(throughputTable(results.throughput), "");
  }
  if (results.hotRow) {
    out.push("2. Hot row: every client consumes on ONE org (ops/s)");
    out.push(throughputTable([results.hotRow], true), "");
  }
  if (results.throughput.length || results.hotRow) {
    out.push(
      "Cost per op: SQL round trips (q) · CPU ms of the bench process (in-process HTTP: client and server side together);",
      "⇄ lean / ⇄ next: the product app's client (packages/client) in another process against the real server (scripts/next-server.ts): CPU ms per op of the server process · of the client process",
    );
    out.push(costTable([...results.throughput, ...(results.hotRow ? [results.hotRow] : [])]), "");
  }
  if (results.alertCost) {
    const a = results.alertCost;
    out.push(
      `Usage alerts' cost: the bare statements without and with the alert SQL (alert-sql.ts), ${a.clients} clients, ${a.orgsWithThresholds} orgs with thresholds configured (ops/s)`,
      ratioTable(
        ["without alerts", "with alerts", "with/without"],
        (op) => [a[op].without.opsPerSec, a[op].with.opsPerSec],
        TARGETS.alertShare,
      ),
      "",
    );
  }
  if (results.partitionCost) {
    const p = results.partitionCost;
    out.push(
      `Issue #16's ledger: the bare statements on the ledger before #16 (one table, unique key index) and today (monthly partitions, usage_idempotency_keys, tx_id), ${p.clients} clients (ops/s)`,
      ratioTable(["before #16", "today", "today/before"], (op) => [p[op].before.opsPerSec, p[op].today.opsPerSec], TARGETS.partitionShare),
      "",
    );
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
            `svc/pg ≥ ${TARGETS.batchShare * 100} % ${mark(b.service / b.baseline >= TARGETS.batchShare)}; ≥ ${int(TARGETS.batchEventsPerSec)} ${mark(b.service >= TARGETS.batchEventsPerSec)}`,
          ],
          ["per batch: q · CPU", costText(b.cost.baseline, 1), costText(b.cost.service, 1), "", ""],
        ],
        "lrrrl",
      ),
      "",
    );
  }
  if (results.sdkTrack) {
    const t = results.sdkTrack;
    out.push(
      `   SDK buffered track() (packages/client), client process ⇄ lean server: ${int(t.events)} api_calls over 200 orgs until close() — ` +
        `${int(t.eventsPerSec)} events/s (${t.seconds.toFixed(2)} s); ledger +${int(t.ledgerGain)}, confirmed ${int(t.confirmed)}: ` +
        `${t.exact ? "exact ✓" : "NOT exact ✗"}; CPU per 1 000 events: server ${(t.serverCpuMsPerEvent * 1000).toFixed(1)} ms · client ${(t.clientCpuMsPerEvent * 1000).toFixed(1)} ms`,
      "",
    );
  }
  if (results.check) {
    const c = results.check;
    out.push(`4. check latency, one client, ${int(c.calls)} calls after warm-up (ms); and consume from a client in another process`);
    out.push(
      table(
        ["variant", "p50", "p99", "mean", "max", "n", "target"],
        [
          latencyRow("bare pg: policy read", c.baseline),
          ...(c.pgbench ? [latencyRow("pgbench: policy read", c.pgbench)] : []),
          latencyRow("service, in-process", c.service),
          latencyRow(
            "typed client over HTTP, same process",
            c.http,
            `p99 ≤ ${TARGETS.httpCheckP99Ms} ms ${mark(c.http.p99 <= TARGETS.httpCheckP99Ms)}`,
          ),
          ...Object.entries(c.remote).flatMap(([variant, r]) => [
            latencyRow(
              `check, client in another process ⇄ ${variant}`,
              r.check.latency,
              `p50 ≤ ${TARGETS.remoteCheckP50Ms} ${mark(r.check.latency.p50 <= TARGETS.remoteCheckP50Ms)}, p99 ≤ ${TARGETS.httpCheckP99Ms} ${mark(r.check.latency.p99 <= TARGETS.httpCheckP99Ms)}`,
            ),
            latencyRow(
              `consume, client in another process ⇄ ${variant}`,
              r.consume.latency,
              `p50 ≤ ${TARGETS.remoteConsumeP50Ms} ${mark(r.consume.latency.p50 <= TARGETS.remoteConsumeP50Ms)}`,
            ),
          ]),
        ],
        "lrrrrrl",
      ),
      ...Object.entries(c.remote).map(
        ([variant, r]) =>
          `CPU per call ⇄ ${variant}: check ${r.check.serverCpuMsPerCall.toFixed(2)} ms server · ${r.check.clientCpuMsPerCall.toFixed(2)} ms client; ` +
          `consume ${r.consume.serverCpuMsPerCall.toFixed(2)} ms server · ${r.consume.clientCpuMsPerCall.toFixed(2)} ms client`,
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

/** consume and increment, each as a baseline and a variant: ops/s of both, their ratio, and the ratio's target. */
function ratioTable(
  headers: [baseline: string, variant: string, ratio: string],
  figures: (op: "consume" | "increment") => [baseline: number, variant: number],
  target: number,
): string {
  const row = (op: "consume" | "increment") => {
    const [baseline, variant] = figures(op);
    return [op, int(baseline), int(variant), pct(variant, baseline), `≥ ${target * 100} % ${mark(variant / baseline >= target)}`];
  };
  return table(["op", ...headers, "target"], [row("consume"), row("increment")], "lrrrl");
}
