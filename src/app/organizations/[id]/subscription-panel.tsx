import Link from "next/link";
import type { ReactNode } from "react";

import { api } from "@/trpc/server";

import { ResyncButton } from "../../_components/resync-button";
import { UtcTime } from "../../_components/utc-time";
import { formatStatus } from "../../_lib/format";

const none = <span className="muted">—</span>;

function Fact({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div>
      <dt>{label}</dt>
      <dd>{children}</dd>
    </div>
  );
}

const time = (value: Date | null) => (value ? <UtcTime value={value} precision="second" /> : none);

/**
 * The org's Dodo subscription (the one the policy uses): plan from the catalogue via the
 * product id, status, period, cancellation, ids and the last event applied; or "No
 * subscription (free plan)". Admins get "Resync from Dodo".
 */
export async function SubscriptionPanel({ orgId, isAdmin }: { orgId: string; isAdmin: boolean }) {
  const { subscription: sub, effective, otherSubscriptions } = await api.billing.dodo.subscription({ orgId });
  const policyDiffers = sub && (effective.planId !== sub.plan?.id || effective.standing !== "good");

  return (
    <section aria-labelledby="subscription-title" className="admin-panel subscription-panel">
      <h2 id="subscription-title">Subscription</h2>
      {!sub ? (
        <p data-testid="subscription-none">No subscription (free plan)</p>
      ) : (
        <>
          <dl className="facts" aria-label="Dodo subscription">
            <Fact label="Plan">
              {sub.plan ? (
                <span className={`plan plan-${sub.plan.id}`} data-testid="subscription-plan">
                  {sub.plan.name}
                </span>
              ) : (
                <span className="webhook-error" data-testid="subscription-plan">
                  Unknown product
                </span>
              )}{" "}
              <code className="muted">{sub.productId}</code>
            </Fact>
            <Fact label="Status">
              <span className={`status status-${sub.status}`} data-testid="subscription-status">
                {formatStatus(sub.status)}
              </span>
            </Fact>
            <Fact label="Current period (UTC)">
              {time(sub.currentPeriodStart)} → {time(sub.currentPeriodEnd)}
            </Fact>
            <Fact label="Cancel at period end">{sub.cancelAtPeriodEnd ? "Yes" : "No"}</Fact>
            <Fact label="Cancelled at (UTC)">{time(sub.cancelledAt)}</Fact>
            <Fact label="Expires at (UTC)">{time(sub.expiresAt)}</Fact>
            <Fact label="Quantity">{sub.quantity}</Fact>
          </dl>
          <dl className="facts" aria-label="Dodo identifiers">
            <Fact label="Subscription id">
              <code data-testid="subscription-id">{sub.id}</code>
            </Fact>
            <Fact label="Dodo customer id">{sub.customerId ? <code>{sub.customerId}</code> : none}</Fact>
            <Fact label="Last event (UTC)">{time(sub.lastEventAt)}</Fact>
            <Fact label="Last event id">
              {sub.lastEventId ? (
                sub.lastEventIsWebhook ? (
                  <Link href={`/webhooks/${encodeURIComponent(sub.lastEventId)}`}>
                    <code data-testid="subscription-last-event-id">{sub.lastEventId}</code>
                  </Link>
                ) : (
                  <code data-testid="subscription-last-event-id">{sub.lastEventId}</code>
                )
              ) : (
                none
              )}
            </Fact>
          </dl>
          {policyDiffers ? (
            <p className="muted" data-testid="subscription-policy">
              The policy applies the {effective.planName} plan
              {effective.standing === "grace" && effective.graceEndsAt ? (
                <>
                  {" "}
                  (grace period until <UtcTime value={effective.graceEndsAt} /> UTC)
                </>
              ) : effective.standing === "lapsed" ? (
                " (grace period over: increments are denied)"
              ) : null}
              .
            </p>
          ) : null}
          {otherSubscriptions > 0 ? (
            <p className="muted">
              {otherSubscriptions} other subscription{otherSubscriptions === 1 ? "" : "s"} of this organization (older or lapsed)
              {otherSubscriptions === 1 ? " is" : " are"} not used by the policy.
            </p>
          ) : null}
        </>
      )}
      <p>
        <Link href={`/webhooks?org=${orgId}`}>Webhook events of this organization</Link>
      </p>
      {isAdmin ? <ResyncButton orgId={orgId} /> : null}
    </section>
  );
}
