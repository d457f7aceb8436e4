import Link from "next/link";

import { api } from "@/trpc/server";

import { formatCount } from "../_lib/format";

/**
 * The Overview's outgoing-events card (a server component): endpoints with dead letters or
 * consecutive failed attempts in the last 24 hours (src/server/billing/events/failing-endpoints.ts).
 */
export async function EventsOverviewCard() {
  const failing = await api.billing.events.failingEndpoints();
  const worst = failing[0];
  return (
    <section className={`stat ${failing.length === 0 ? "stat-good" : "stat-bad"}`} aria-labelledby="stat-events">
      <h2 id="stat-events" className="stat-label">
        Failing webhook endpoints
      </h2>
      <p className="stat-value" data-testid="failing-endpoints">
        <Link href={worst ? `/events?endpoint=${worst.id}&status=failed` : "/events"}>{formatCount(failing.length)}</Link>
      </p>
      <p className="stat-note">
        {worst
          ? `Last 24 h: ${worst.url} — ${formatCount(worst.deadLetters)} failed deliveries, ${formatCount(worst.consecutiveFailures)} failed attempts in a row${worst.lastError ? ` (${worst.lastError})` : ""}.`
          : "No endpoint failed a delivery in the last 24 hours."}
      </p>
    </section>
  );
}
