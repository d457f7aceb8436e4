import Link from "next/link";
import type { ReactNode } from "react";
import { api } from "@/trpc/server";
import { formatCount } from "./_lib/format";
import { ROADMAP } from "./_lib/roadmap";

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
  const stats = await api.billing.orgs.stats();
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
        <Stat
          id="stat-organizations"
          label="Organizations"
          value={<Link href="/organizations">{formatCount(stats.organizations)}</Link>}
        />
        <Stat
          id="stat-subscriptions"
          label="Active subscriptions"
          value={formatCount(stats.activeSubscriptions)}
        />
        <Stat
          id="stat-integrity"
          label="Usage integrity"
          value={mismatches === 0 ? "OK" : `${formatCount(mismatches)} off`}
          note={integrityNote}
          tone={mismatches === 0 ? "good" : "bad"}
        />
      </div>
      <p className="muted">
        The rest of the overview (usage trends, revenue, recent ledger activity, denials) comes with{" "}
        {ROADMAP.staffDashboard}.
      </p>
    </>
  );
}
