import Link from "next/link";
import type { ReactNode } from "react";

import { api } from "@/trpc/server";

import { DenialsTable } from "./_components/denials-table";
import { formatCount } from "./_lib/format";
import { BackfillOverviewCard } from "./backfill/overview-card";
import { EventsOverviewCard } from "./events/overview-card";
import { formatAge, LAG_WARNING_SECONDS, PROBLEMS_FILTER } from "./webhooks/format";

// Reads the database on every request; `next build` must not prerender it.
export const dynamic = "force-dynamic";

function Stat({ id, label, value, note, tone }: { id: string; label: string; value: ReactNode; note?: string; tone?: "good" | "bad" }) {
  return (
    <section className={`stat${tone ? ` stat-${tone}` : ""}`} aria-labelledby={id}>
      <h2 id={id} className="stat-label">
        {label}
      </h2>
      <p className="stat-value">{value}</p>
      {note ? <p className="stat-note">{note}</p> : null}
    </section>
  );
}

export default async function OverviewPage() {
  const [stats, denials, dodo] = await Promise.all([
    api.billing.orgs.stats(),
    api.billing.orgs.denials({ limit: 10 }),
    api.billing.dodo.overview(),
  ]);
  const { webhooks, outbox } = dodo;
  const { pairsChecked, mismatches } = stats.integrity;
  const integrityNote =
    pairsChecked === 0
      ? "No usage in the ledger yet."
      : mismatches === 0
        ? `All ${formatCount(pairsChecked)} (organization, metric) counts equal the sum of their ledger entries.`
        : `${formatCount(mismatches)} of ${formatCount(pairsChecked)} (organization, metric) counts differ from the sum of their ledger entries.`;

  return (
    <>
      <h1>Overview</h1>
      <div className="stats">
        <Stat id="stat-organizations" label="Organizations" value={<Link href="/organizations">{formatCount(stats.organizations)}</Link>} />
        <Stat id="stat-subscriptions" label="Active subscriptions" value={formatCount(stats.activeSubscriptions)} />
        <Stat
          id="stat-integrity"
          label="Usage integrity"
          value={mismatches === 0 ? "OK" : `${formatCount(mismatches)} off`}
          note={integrityNote}
          tone={mismatches === 0 ? "good" : "bad"}
        />
        <BackfillOverviewCard />
        <EventsOverviewCard />
      </div>
      <div className="stats">
        <Stat
          id="stat-near-80"
          label="At ≥ 80 % of a limit"
          value={<Link href="/organizations?near=80">{formatCount(stats.nearLimit.atLeast80)}</Link>}
          note="Organizations using at least 80 % of any hard or soft limit."
        />
        <Stat
          id="stat-near-100"
          label="At or over a limit"
          value={<Link href="/organizations?near=100">{formatCount(stats.nearLimit.atLeast100)}</Link>}
          note="Organizations at 100 % or more of any hard or soft limit."
          tone={stats.nearLimit.atLeast100 === 0 ? undefined : "bad"}
        />
      </div>

      <div className="stats">
        <Stat
          id="stat-webhook-failures"
          label="Webhook failures"
          value={<Link href={`/webhooks?status=${PROBLEMS_FILTER}`}>{formatCount(webhooks.problems)}</Link>}
          note={`${formatCount(webhooks.failed)} failed (Dodo retries them) · ${formatCount(webhooks.needsAttention)} need attention (fix, then replay).`}
          tone={webhooks.problems === 0 ? "good" : "bad"}
        />
        <Stat
          id="stat-outbox-pending"
          label="Usage reporting backlog"
          value={<Link href="/webhooks/usage-reporting">{formatCount(outbox.pending)}</Link>}
          note={
            outbox.oldestPendingAgeSeconds === null
              ? "No metered usage waiting to be sent to Dodo."
              : `Pending rows; the oldest is ${formatAge(outbox.oldestPendingAgeSeconds)} old (Dodo refuses usage older than 1 hour).`
          }
          tone={outbox.oldestPendingAgeSeconds !== null && outbox.oldestPendingAgeSeconds > LAG_WARNING_SECONDS ? "bad" : undefined}
        />
        <Stat
          id="stat-outbox-expired"
          label="Expired usage"
          value={<Link href="/webhooks/usage-reporting">{formatCount(outbox.expired)}</Link>}
          note={`Metered usage not sent within Dodo's 1-hour window, so never reported; ${formatCount(outbox.failed)} more refused by Dodo.`}
          tone={outbox.expired + outbox.failed === 0n ? "good" : "bad"}
        />
      </div>

      <section aria-labelledby="denials-title">
        <h2 id="denials-title">Recent denials</h2>
        {denials.length === 0 ? <p className="muted">No denials recorded yet.</p> : <DenialsTable denials={denials} showOrg={true} />}
      </section>
    </>
  );
}
