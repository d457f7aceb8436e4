import { EXPORT_TARGET_SHARE, PAGE_TARGET_MS, type DashboardAtScaleResult } from "./dashboard-at-scale";
import { int, mark, table } from "./text-table";

/** The dashboard-at-scale section of the printed report, each target with ✓/✗. */
export function renderDashboardAtScale(r: DashboardAtScaleResult): string {
  const out: string[] = [];
  const s = r.size;
  const ms = (n: number) => n.toFixed(0);
  out.push(
    `8. Dashboard at scale: ${int(s.orgs)} orgs (seed), ${int(r.ledgerRows)} ledger rows (${int(s.ledgerRows)} api_calls over ${s.days} days, ${int(s.bigOrgRows)} on org ${r.bigOrgId}); load average ${r.loadAverage.map((l) => l.toFixed(2)).join(" ")}`,
  );
  if (r.load) {
    const l = r.load;
    out.push(
      `   loaded in ${(l.seed + l.copy + l.indexes + l.cache + l.fold + l.analyze).toFixed(0)} s: seed ${l.seed.toFixed(0)}, COPY ${l.copy.toFixed(0)}, indexes ${l.indexes.toFixed(0)}, cache ${l.cache.toFixed(0)}, fold ${l.fold.toFixed(0)}, analyze ${l.analyze.toFixed(0)} s`,
    );
  } else {
    out.push("   reused a database loaded by an earlier --keep-db run");
  }
  const c = r.check;
  const exact = scaleDataExact(r);
  out.push(
    `   exact against a rescan: cache ≠ SUM(ledger) ${c.cacheMismatches}, usage_daily ≠ rescan ${c.dailyMismatches}, usage_daily_totals ≠ rescan ${c.dailyAllOrgsMismatches}, totals ≠ rescan ${c.totalsMismatches} (tail ${int(c.tailRows)} rows) ${mark(exact)}`,
    "",
  );
  if (r.pages) {
    out.push(`   Pages over HTTP: the production server, signed in (admin), HTML fully read; median of 3 warm loads (ms)`);
    out.push(
      table(
        ["page", "path", "p50", "runs", "KiB", "target"],
        r.pages.map((p) => [
          p.name,
          p.path.length > 40 ? `${p.path.slice(0, 37)}…` : p.path,
          ms(p.ms),
          p.runs.map(ms).join(" / "),
          (p.bytes / 1024).toFixed(0),
          `< ${PAGE_TARGET_MS} ${mark(p.ms < PAGE_TARGET_MS)}`,
        ]),
        "llrrrl",
      ),
      "",
    );
    const o = r.overview;
    if (o) {
      out.push(
        `   The timed Overview's integrity figures: usage integrity «${o.integrity ?? "?"}», backfill verification «${o.drift ?? "?"}» — measured, not skipped ${mark(overviewMeasured(r))}`,
        "",
      );
    }
  } else {
    out.push("   Pages over HTTP: n/a (no production build, or --no-remote)", "");
  }
  out.push("   The pages' domain queries in-process (no HTTP, no rendering); median of 3 warm runs (ms)");
  out.push(
    table(
      ["query", "p50", "runs"],
      r.domain.map((d) => [d.name, ms(d.ms), d.runs.map(ms).join(" / ")]),
      "lrr",
    ),
    "",
  );
  if (r.export) {
    const e = r.export;
    // The export ends records with CRLF, COPY with LF: one byte more per record (and the header).
    const sameRows = e.httpBytes === e.copyBytes + e.rows + 1;
    out.push(
      `   CSV export of the big org (${int(e.rows)} rows): HTTP ${ms(e.httpMs)} ms (${(e.httpBytes / 2 ** 20).toFixed(0)} MiB) vs COPY … TO STDOUT ${ms(e.copyMs)} ms: ` +
        `${(e.share * 100).toFixed(0)} % of COPY speed, target ≥ ${EXPORT_TARGET_SHARE * 100} % ${mark(e.share >= EXPORT_TARGET_SHARE)}; ` +
        `same bytes but CRLF ${mark(sameRows)}`,
    );
  }
  return out.join("\n");
}

/** Whether every target of the section was met (for the exit code's caller to report). */
export function dashboardTargetsMet(r: DashboardAtScaleResult): boolean {
  return (
    scaleDataExact(r) &&
    (r.pages ?? []).every((p) => p.ms < PAGE_TARGET_MS) &&
    (r.pages === null || overviewMeasured(r)) &&
    (r.export === null || r.export.share >= EXPORT_TARGET_SHARE)
  );
}

function scaleDataExact({ check: c }: DashboardAtScaleResult): boolean {
  return c.cacheMismatches === 0 && c.dailyMismatches === 0 && c.dailyAllOrgsMismatches === 0 && c.totalsMismatches === 0;
}

/** Both figures present, and the backfill card measured its drift instead of giving up at its time limit. */
function overviewMeasured({ overview: o }: DashboardAtScaleResult): boolean {
  return o !== null && o.integrity !== null && o.drift !== null && o.drift !== "Not measured";
}
