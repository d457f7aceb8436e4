import Link from "next/link";

import { api } from "@/trpc/server";

import { UtcTime } from "../_components/utc-time";
import { formatCount } from "../_lib/format";
import { MODE_LABELS, STATE_LABELS } from "./format";

/**
 * The Overview's backfill card (a server component): would `npm run backfill -- --verify`
 * pass right now, and what the last run did. The drift figure is exact — cache vs
 * SUM(ledger) vs old count for every organization, one set-based statement — but a full
 * scan, so it is bounded by a time limit; past it the card says so and shows the last
 * whole-database verification instead.
 */
export async function BackfillOverviewCard() {
  const { lastRun, lastVerified, drift } = await api.billing.backfill.overview();
  const off = drift.measured ? drift.mismatches : null;
  const tone = off === null ? "" : off === 0 ? " stat-good" : " stat-bad";

  return (
    <section className={`stat${tone}`} aria-labelledby="stat-backfill">
      <h2 id="stat-backfill" className="stat-label">
        Backfill verification
      </h2>
      <p className="stat-value" data-testid="backfill-drift">
        <Link href="/backfill">{off === null ? "Not measured" : off === 0 ? "Would pass" : `${formatCount(off)} off`}</Link>
      </p>
      <p className="stat-note">
        {drift.measured
          ? `${formatCount(drift.mismatches)} of ${formatCount(drift.pairs)} (organization, gauge) pairs where cache, SUM(ledger) and the old count disagree — measured now in ${formatCount(drift.elapsedMs)} ms.`
          : `Too many organizations to measure within ${formatCount(drift.timeoutMs)} ms on page load; run npm run backfill -- --verify.`}
        {!drift.measured && lastVerified ? (
          <>
            {" "}
            Last whole-database check (<UtcTime value={lastVerified.finishedAt ?? lastVerified.startedAt} /> UTC):{" "}
            {formatCount(lastVerified.remaining ?? 0)} remaining.
          </>
        ) : null}
      </p>
      <p className="stat-note" data-testid="backfill-last-run">
        {lastRun ? (
          <>
            Last run: <Link href={`/backfill/${lastRun.id}`}>{MODE_LABELS[lastRun.mode] ?? lastRun.mode}</Link>,{" "}
            {(STATE_LABELS[lastRun.state] ?? lastRun.state).toLowerCase()}, <UtcTime value={lastRun.startedAt} /> UTC ·{" "}
            {lastRun.orgPrefix === null ? "all organizations" : `slugs starting “${lastRun.orgPrefix}”`} · {formatCount(lastRun.mismatches)}{" "}
            mismatches
            {lastRun.remaining === null ? "" : ` · ${formatCount(lastRun.remaining)} remaining`}
          </>
        ) : (
          "No backfill has run yet."
        )}
      </p>
    </section>
  );
}
