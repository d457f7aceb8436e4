import { z } from "zod";

import type { PrismaClient } from "@/server/db/client";
import type { Db, Tx } from "@/server/db/tx";
import { env } from "@/server/env";

import { recordAudit } from "../audit-log";
import { BillingError, parseInput } from "../errors";
import { storableText } from "../schemas";
import { SUBSCRIBABLE_EVENT_TYPES } from "./event-types";
import { insertEvent } from "./insert-event";
import { newSigningSecret, ROTATION_WINDOW_MS } from "./signing";
import { assertSafeUrl, type UrlPolicy } from "./url-safety";

/**
 * Webhook endpoints, managed by admins: create (the signing secret is in that answer only),
 * update, rotate the secret (the previous one keeps signing for ROTATION_WINDOW_MS), send a
 * test event. Every write records its audit row in its transaction; never a secret in it.
 */

export const endpointUrlSchema = storableText(z.string().trim().min(1).max(2000));
export const endpointTypesSchema = z.array(z.enum(SUBSCRIBABLE_EVENT_TYPES)).min(1).max(SUBSCRIBABLE_EVENT_TYPES.length);

export const createEndpointInput = z.object({
  url: endpointUrlSchema,
  description: storableText(z.string().trim().max(500)).default(""),
  eventTypes: endpointTypesSchema,
});
export const updateEndpointInput = z.object({
  id: z.uuid(),
  url: endpointUrlSchema.optional(),
  description: storableText(z.string().trim().max(500)).optional(),
  eventTypes: endpointTypesSchema.optional(),
  enabled: z.boolean().optional(),
});

export interface WebhookEndpointInfo {
  id: string;
  url: string;
  description: string;
  eventTypes: string[];
  enabled: boolean;
  /** While set and in the future, the previous secret also signs. */
  previousSecretExpiresAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

/** The policy from the environment (EVENTS_ALLOW_PRIVATE_URLS). */
export const urlPolicyFromEnv = (): UrlPolicy => ({ allowPrivate: env().EVENTS_ALLOW_PRIVATE_URLS });

interface EndpointRow extends WebhookEndpointInfo {
  secret: string;
  previousSecret: string | null;
}

const info = (r: EndpointRow): WebhookEndpointInfo => ({
  id: r.id,
  url: r.url,
  description: r.description,
  eventTypes: r.eventTypes,
  enabled: r.enabled,
  previousSecretExpiresAt: r.previousSecretExpiresAt,
  createdAt: r.createdAt,
  updatedAt: r.updatedAt,
});

async function getRow(db: Db, id: string): Promise<EndpointRow> {
  const row = await db.webhookEndpoint.findUnique({ where: { id } });
  if (!row) throw new BillingError("NOT_FOUND", "endpoint_not_found", `Webhook endpoint ${id} does not exist`);
  return row;
}

export async function listEndpoints(db: Db): Promise<WebhookEndpointInfo[]> {
  const rows = await db.webhookEndpoint.findMany({ orderBy: [{ createdAt: "asc" }, { id: "asc" }] });
  return rows.map(info);
}

export async function getEndpoint(db: Db, id: string): Promise<WebhookEndpointInfo> {
  return info(await getRow(db, parseInput(z.uuid(), id)));
}

export async function createEndpointAsStaff(
  client: PrismaClient,
  input: z.input<typeof createEndpointInput>,
  actor: string,
  policy: UrlPolicy = urlPolicyFromEnv(),
): Promise<{ endpoint: WebhookEndpointInfo; secret: string }> {
  const parsed = parseInput(createEndpointInput, input);
  // Resolved before the transaction: a slow DNS answer must not hold it open.
  await assertSafeUrl(parsed.url, policy);
  const secret = newSigningSecret();
  return client.$transaction(async (tx) => {
    const row = await tx.webhookEndpoint.create({ data: { ...parsed, secret } });
    const endpoint = info(row);
    await recordAudit(tx, { actor, action: "webhook_endpoint.create", target: { type: "webhook_endpoint", id: row.id }, after: endpoint });
    return { endpoint, secret };
  });
}

export async function updateEndpointAsStaff(
  client: PrismaClient,
  input: z.input<typeof updateEndpointInput>,
  actor: string,
  policy: UrlPolicy = urlPolicyFromEnv(),
): Promise<WebhookEndpointInfo> {
  const { id, ...changes } = parseInput(updateEndpointInput, input);
  if (changes.url !== undefined) await assertSafeUrl(changes.url, policy);
  return client.$transaction(async (tx) => {
    const before = info(await getRow(tx, id));
    const after = info(await tx.webhookEndpoint.update({ where: { id }, data: { ...changes, updatedAt: new Date() } }));
    await recordAudit(tx, { actor, action: "webhook_endpoint.update", target: { type: "webhook_endpoint", id }, before, after });
    return after;
  });
}

/**
 * A new secret; the old one keeps signing (beside the new) for ROTATION_WINDOW_MS so receivers
 * can switch without a failed delivery. A second rotation inside the window drops the oldest.
 */
export async function rotateEndpointSecretAsStaff(
  client: PrismaClient,
  id: string,
  actor: string,
  now: Date = new Date(),
): Promise<{ endpoint: WebhookEndpointInfo; secret: string }> {
  const endpointId = parseInput(z.uuid(), id);
  const secret = newSigningSecret();
  return client.$transaction(async (tx) => {
    const before = await getRow(tx, endpointId);
    const row = await tx.webhookEndpoint.update({
      where: { id: endpointId },
      data: {
        secret,
        previousSecret: before.secret,
        previousSecretExpiresAt: new Date(now.getTime() + ROTATION_WINDOW_MS),
        updatedAt: now,
      },
    });
    const endpoint = info(row);
    await recordAudit(tx, {
      actor,
      action: "webhook_endpoint.rotate_secret",
      target: { type: "webhook_endpoint", id: endpointId },
      before: info(before),
      after: endpoint,
    });
    return { endpoint, secret };
  });
}

/** The org id a `test.ping` carries: it concerns no organization. */
export const TEST_PING_ORG_ID = "00000000-0000-0000-0000-000000000000";

/**
 * A `test.ping` to this endpoint only: the event is written already dispatched, with its one
 * delivery, so the fan-out never sends it elsewhere; the deliverer sends it like any other.
 */
export async function sendTestEventAsStaff(
  client: PrismaClient,
  id: string,
  actor: string,
): Promise<{ eventId: string; deliveryId: string }> {
  const endpointId = parseInput(z.uuid(), id);
  return client.$transaction(async (tx: Tx) => {
    const endpoint = await getRow(tx, endpointId);
    const eventId = (await insertEvent(tx, {
      type: "test.ping",
      orgId: TEST_PING_ORG_ID,
      payload: { endpointId, message: "A test event sent from the billing dashboard.", sentBy: actor },
    })) as string;
    await tx.$executeRaw`UPDATE billing_events SET dispatched_at = now() WHERE id = ${eventId}`;
    const delivery = await tx.eventDelivery.create({
      data: { eventId, endpointId: endpoint.id, orgId: TEST_PING_ORG_ID, eventType: "test.ping" },
    });
    await recordAudit(tx, {
      actor,
      action: "webhook_endpoint.send_test",
      target: { type: "webhook_endpoint", id: endpointId },
      after: { eventId, deliveryId: delivery.id },
    });
    return { eventId, deliveryId: delivery.id };
  });
}
