import { TRPCError } from "@trpc/server";
import type { Metadata } from "next";
import Link from "next/link";
import { notFound } from "next/navigation";
import type { ReactNode } from "react";

import { roleAtLeast } from "@/server/auth";
import { api, currentStaff } from "@/trpc/server";

import { UtcTime } from "../../_components/utc-time";
import { STATUS_LABELS } from "../format";
import { ReplayButton } from "./replay-button";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Webhook event" };

type Params = Promise<{ id: string }>;

/** What a staff replay may change: a failure, a problem staff fixed, or a delivery stuck mid-way. */
const REPLAYABLE = new Set(["failed", "needs_attention", "received"]);

/** The route segment as the webhook-id (links encode it; a malformed escape is taken as typed). */
function idFrom(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

async function load(id: string) {
  if (!id || id.length > 200) return null;
  try {
    return await api.billing.dodo.webhooks.get({ id });
  } catch (error) {
    if (error instanceof TRPCError && error.code === "NOT_FOUND") return null;
    throw error;
  }
}

function Fact({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div>
      <dt>{label}</dt>
      <dd>{children}</dd>
    </div>
  );
}

const none = <span className="muted">—</span>;

/** One delivery: what was stored and done, its payload, and (admins) a replay. */
export default async function WebhookEventPage({ params }: { params: Params }) {
  const { id: segment } = await params;
  const [event, session] = await Promise.all([load(idFrom(segment)), currentStaff()]);
  if (!event) notFound();
  const isAdmin = roleAtLeast(session?.user.role, "admin");
  const replayable = REPLAYABLE.has(event.status);

  return (
    <>
      <p className="muted">
        <Link href="/webhooks">← Webhooks</Link>
      </p>
      <h1>
        Webhook event <code data-testid="webhook-id">{event.id}</code>
      </h1>
      <dl className="facts" aria-label="Webhook event">
        <Fact label="Type">{event.type}</Fact>
        <Fact label="Status">
          <span className={`status status-${event.status}`} data-testid="webhook-status">
            {STATUS_LABELS[event.status] ?? event.status}
          </span>
        </Fact>
        <Fact label="Attempts">
          <span data-testid="webhook-attempts">{event.attempts}</span>
        </Fact>
        <Fact label="Received (UTC)">
          <UtcTime value={event.receivedAt} precision="millisecond" />
        </Fact>
        <Fact label="Processed (UTC)">{event.processedAt ? <UtcTime value={event.processedAt} precision="millisecond" /> : none}</Fact>
        <Fact label="Event time (UTC)">
          {event.eventTimestamp ? <UtcTime value={event.eventTimestamp} precision="millisecond" /> : none}
        </Fact>
        <Fact label="Organization">
          {event.orgId ? <Link href={`/organizations/${event.orgId}`}>{event.orgName ?? event.orgId}</Link> : none}
        </Fact>
        <Fact label="Subscription">{event.subscriptionId ? <code>{event.subscriptionId}</code> : none}</Fact>
      </dl>
      <dl className="facts facts-wide" aria-label="Processing">
        <Fact label="Outcome">
          <span data-testid="webhook-outcome">{event.outcome ?? "—"}</span>
        </Fact>
        <Fact label="Error">
          {event.error ? (
            <span className="webhook-error" data-testid="webhook-error">
              {event.error}
            </span>
          ) : (
            none
          )}
        </Fact>
      </dl>

      {isAdmin ? (
        <ReplayButton id={event.id} replayable={replayable} />
      ) : replayable ? (
        <p className="muted">An admin can replay this event once its cause is fixed.</p>
      ) : null}

      <section aria-labelledby="payload-title">
        <h2 id="payload-title">Payload</h2>
        <pre className="json-block" aria-label="Payload JSON" tabIndex={0}>
          {JSON.stringify(event.payload, null, 2)}
        </pre>
      </section>
    </>
  );
}
