import type { BackfillBenchResult, BackfillVariantResult } from "./backfill";
import type { BenchResults, Target } from "./results";
import { int, ms } from "./text-table";

/** The bench's targets: the thresholds, and each measured figure judged against its own. */

export const TARGETS = {
  serviceConsume: 0.7,
  httpConsume: 0.4,
  batchShare: 0.8,
  batchEventsPerSec: 100_000,
  /** The SDK's buffered track(), end to end from another process, every event confirmed exactly. */
  sdkTrackEventsPerSec: 100_000,
  httpCheckP99Ms: 5,
  /** One client in another process, sequential calls to the real server (issue #17). */
  remoteCheckP50Ms: 1,
  remoteConsumeP50Ms: 2,
  flatness: 0.2,
  speedUp: 20,
  ledgerPageMs: 50,
  backfillShare: 0.5,
  /** Consume and increment with the usage-alert SQL keep this share of their throughput without it (issue #12). */
  alertShare: 0.9,
  /** Issue #16: consume/increment on the partitioned ledger + keys table vs the ledger before it. */
  partitionShare: 0.9,
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
    for (const [variant, ops] of Object.entries(at8.remote)) {
      const h = ops / at8.baseline;
      targets.push({
        name: `HTTP consume, 8 clients in another process ⇄ ${variant} server`,
        figure: `${(h * 100).toFixed(0)} % of bare pg`,
        target: `≥ ${TARGETS.httpConsume * 100} %`,
        met: h >= TARGETS.httpConsume,
      });
    }
  }
  if (results.batch) {
    const share = results.batch.service / results.batch.baseline;
    targets.push({
      name: "incrementMany vs the bare statement for the same rows",
      figure: `${(share * 100).toFixed(0)} % of bare pg`,
      target: `≥ ${TARGETS.batchShare * 100} %`,
      met: share >= TARGETS.batchShare,
    });
    const b = results.batch.service;
    targets.push({
      name: "batched ingest (incrementMany), service",
      figure: `${int(b)} events/s`,
      target: `≥ ${int(TARGETS.batchEventsPerSec)} events/s`,
      met: b >= TARGETS.batchEventsPerSec,
    });
  }
  if (results.alertCost) {
    for (const op of ["consume", "increment"] as const) {
      const pair = results.alertCost[op];
      const share = pair.with.opsPerSec / pair.without.opsPerSec;
      targets.push({
        name: `${op} with usage-alert thresholds configured vs without the alert SQL, bare pg, ${results.alertCost.clients} clients`,
        figure: `${(share * 100).toFixed(0)} %`,
        target: `≥ ${TARGETS.alertShare * 100} %`,
        met: share >= TARGETS.alertShare,
      });
    }
  }
  if (results.partitionCost) {
    for (const op of ["consume", "increment"] as const) {
      const pair = results.partitionCost[op];
      const share = pair.today.opsPerSec / pair.before.opsPerSec;
      targets.push({
        name: `${op} on the partitioned ledger + keys table vs the ledger before #16, bare pg, ${results.partitionCost.clients} clients`,
        figure: `${(share * 100).toFixed(0)} %`,
        target: `≥ ${TARGETS.partitionShare * 100} %`,
        met: share >= TARGETS.partitionShare,
      });
    }
  }
  if (results.sdkTrack) {
    const t = results.sdkTrack;
    targets.push({
      name: "SDK buffered track(), another process ⇄ lean server, exact",
      figure: `${int(t.eventsPerSec)} events/s${t.exact ? "" : ` — NOT exact: ledger +${int(t.ledgerGain)}, confirmed ${int(t.confirmed)} of ${int(t.events)}`}`,
      target: `≥ ${int(TARGETS.sdkTrackEventsPerSec)} events/s, exact`,
      met: t.exact && t.eventsPerSec >= TARGETS.sdkTrackEventsPerSec,
    });
  }
  if (results.check) {
    const p99 = results.check.http.p99;
    targets.push({
      name: "check p99 over HTTP, client in the same process",
      figure: `${ms(p99)} ms`,
      target: `≤ ${TARGETS.httpCheckP99Ms} ms`,
      met: p99 <= TARGETS.httpCheckP99Ms,
    });
    for (const [variant, r] of Object.entries(results.check.remote)) {
      const where = `from another process ⇄ ${variant} server`;
      targets.push(
        latencyTarget(`check p50 ${where}`, r.check.latency.p50, TARGETS.remoteCheckP50Ms),
        latencyTarget(`check p99 ${where}`, r.check.latency.p99, TARGETS.httpCheckP99Ms),
        latencyTarget(`consume p50 ${where}`, r.consume.latency.p50, TARGETS.remoteConsumeP50Ms),
      );
    }
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

const latencyTarget = (name: string, figure: number, limit: number): Target => ({
  name,
  figure: `${ms(figure)} ms`,
  target: `≤ ${limit} ms`,
  met: figure <= limit,
});

const bestBackfillVariant = (b: BackfillBenchResult): BackfillVariantResult =>
  b.variants.reduce((best, v) => (v.orgsPerSec > best.orgsPerSec ? v : best));
