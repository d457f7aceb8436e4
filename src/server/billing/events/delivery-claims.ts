import type { PrismaClient } from "@/server/db/client";

import type { StoredEvent } from "./envelope";
import type { SigningSecrets } from "./signing";

/**
 * Claiming due deliveries and recording what became of an attempt.
 *
 * A claim is a LEASE: one statement picks due pending rows (`FOR UPDATE SKIP LOCKED`, so
 * several deliverers take disjoint rows) and pushes their `next_attempt_at` past the lease,
 * then commits. The request is sent outside any transaction. A deliverer killed after its claim
 * (SIGKILL, a lost machine) loses nothing: when the lease runs out the row is due again and
 * any deliverer sends it — with the same `webhook-id`, so a receiver that did get it dedupes.
 * Recording checks the claimed `attempts` is still the row's, so a deliverer whose lease ran
 * out cannot overwrite what another recorded since.
 */

export interface ClaimedDelivery {
  id: string;
  attempts: number;
  url: string;
  secrets: SigningSecrets;
  event: StoredEvent;
}

interface ClaimRow {
  id: string;
  attempts: number;
  url: string;
  secret: string;
  previous_secret: string | null;
  previous_secret_expires_at: Date | null;
  event_id: string;
  type: string;
  org_id: string;
  occurred_at: Date;
  payload_version: number;
  payload: unknown;
}

export async function claimDue(
  prisma: PrismaClient,
  options: { batchSize: number; leaseMs: number; orgId?: string },
): Promise<ClaimedDelivery[]> {
  const orgId = options.orgId ?? null;
  const rows = await prisma.$queryRaw<ClaimRow[]>`
    WITH due AS (
      SELECT d.id FROM event_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id
      WHERE d.status = 'pending' AND d.next_attempt_at <= now() AND w.enabled
        AND (${orgId}::uuid IS NULL OR d.org_id = ${orgId}::uuid)
      ORDER BY d.next_attempt_at LIMIT ${options.batchSize}
      FOR UPDATE OF d SKIP LOCKED)
    UPDATE event_deliveries d
    SET next_attempt_at = now() + make_interval(secs => ${options.leaseMs / 1000}), updated_at = now()
    FROM due, billing_events e, webhook_endpoints w
    WHERE d.id = due.id AND e.id = d.event_id AND w.id = d.endpoint_id
    RETURNING d.id::text, d.attempts, w.url, w.secret, w.previous_secret, w.previous_secret_expires_at,
              e.id AS event_id, e.type, e.org_id::text, e.occurred_at, e.payload_version, e.payload`;
  return rows.map((r) => ({
    id: r.id,
    attempts: r.attempts,
    url: r.url,
    secrets: { secret: r.secret, previousSecret: r.previous_secret, previousSecretExpiresAt: r.previous_secret_expires_at },
    event: {
      id: r.event_id,
      type: r.type,
      orgId: r.org_id,
      occurredAt: r.occurred_at,
      payloadVersion: r.payload_version,
      payload: r.payload,
    },
  }));
}

export interface AttemptOutcome {
  status: number | null;
  body: string | null;
  error: string | null;
  durationMs: number;
  attemptedAt: Date;
  /** delivered (2xx), retry after `retryInMs`, or failed (schedule exhausted). */
  result: { kind: "delivered" } | { kind: "retry"; retryInMs: number } | { kind: "failed" };
}

/** Records one attempt on the delivery and its history, in one transaction. False: the claim was no longer ours. */
export async function recordAttempt(prisma: PrismaClient, claimed: ClaimedDelivery, o: AttemptOutcome): Promise<boolean> {
  const status = o.result.kind === "retry" ? "pending" : o.result.kind;
  const retrySeconds = o.result.kind === "retry" ? o.result.retryInMs / 1000 : 0;
  const attempt = claimed.attempts + 1;
  return prisma.$transaction(async (tx) => {
    const updated = await tx.$executeRaw`
      UPDATE event_deliveries
      SET status = ${status}, attempts = ${attempt}, last_attempt_at = ${o.attemptedAt},
          next_attempt_at = CASE WHEN ${status} = 'pending' THEN now() + make_interval(secs => ${retrySeconds}) ELSE next_attempt_at END,
          delivered_at = CASE WHEN ${status} = 'delivered' THEN now() ELSE delivered_at END,
          response_status = ${o.status}, response_body = ${o.body}, last_error = ${o.error}, updated_at = now()
      WHERE id = ${claimed.id}::uuid AND status = 'pending' AND attempts = ${claimed.attempts}`;
    if (updated === 0) return false;
    await tx.$executeRaw`
      INSERT INTO event_delivery_attempts (delivery_id, attempt, attempted_at, duration_ms, response_status, response_body, error)
      VALUES (${claimed.id}::uuid, ${attempt}, ${o.attemptedAt}, ${o.durationMs}, ${o.status}, ${o.body}, ${o.error})
      ON CONFLICT (delivery_id, attempt) DO NOTHING`;
    return true;
  });
}

/** When the earliest pending delivery becomes due (null: none pending), for a run that waits. */
export async function nextDueAt(prisma: PrismaClient, orgId: string | undefined): Promise<Date | null> {
  const [row] = await prisma.$queryRaw<{ at: Date | null }[]>`
    SELECT min(d.next_attempt_at) AS at FROM event_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id
    WHERE d.status = 'pending' AND w.enabled AND (${orgId ?? null}::uuid IS NULL OR d.org_id = ${orgId ?? null}::uuid)`;
  return row?.at ?? null;
}
