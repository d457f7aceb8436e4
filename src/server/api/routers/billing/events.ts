import { createTRPCRouter, staffProcedure } from "@/server/api/trpc";
import { getDelivery, listDeliveries, replayDeliveryAsStaff } from "@/server/billing/events/deliveries";
import {
  createEndpointAsStaff,
  listEndpoints,
  rotateEndpointSecretAsStaff,
  sendTestEventAsStaff,
  updateEndpointAsStaff,
} from "@/server/billing/events/endpoints";
import { failingEndpoints } from "@/server/billing/events/failing-endpoints";

import {
  createEndpointInput,
  deliveryIdInput,
  deliveryListInput,
  deliveryListOutput,
  deliveryOutput,
  endpointIdInput,
  endpointOutput,
  endpointWithSecretOutput,
  failingEndpointsOutput,
  testEventOutput,
  updateEndpointInput,
} from "./events.types";

/**
 * `billing.events.*`: outgoing events — webhook endpoints (admin writes, audit-logged; a
 * secret only in the create and rotate answers) and their deliveries (viewers read; admins
 * replay).
 */
export const eventsRouter = createTRPCRouter({
  endpoints: staffProcedure("viewer")
    .output(endpointOutput.array())
    .query(({ ctx }) => listEndpoints(ctx.db())),

  /** Creates an endpoint; its signing secret is in this answer only. */
  createEndpoint: staffProcedure("admin")
    .input(createEndpointInput)
    .output(endpointWithSecretOutput)
    .mutation(({ ctx, input }) => createEndpointAsStaff(ctx.db(), input, ctx.actor)),

  /** URL, description, event types, enabled. */
  updateEndpoint: staffProcedure("admin")
    .input(updateEndpointInput)
    .output(endpointOutput)
    .mutation(({ ctx, input }) => updateEndpointAsStaff(ctx.db(), input, ctx.actor)),

  /** A new secret (in this answer only); the previous one keeps signing for 24 h. */
  rotateSecret: staffProcedure("admin")
    .input(endpointIdInput)
    .output(endpointWithSecretOutput)
    .mutation(({ ctx, input }) => rotateEndpointSecretAsStaff(ctx.db(), input.id, ctx.actor)),

  /** A `test.ping` to this endpoint only. */
  sendTest: staffProcedure("admin")
    .input(endpointIdInput)
    .output(testEventOutput)
    .mutation(({ ctx, input }) => sendTestEventAsStaff(ctx.db(), input.id, ctx.actor)),

  /** Newest first, filtered, keyset pages. */
  deliveries: staffProcedure("viewer")
    .input(deliveryListInput)
    .output(deliveryListOutput)
    .query(({ ctx, input }) => listDeliveries(ctx.db(), input.filter, { cursor: input.cursor, limit: input.limit })),

  /** One delivery with its attempts and the event's envelope. */
  delivery: staffProcedure("viewer")
    .input(deliveryIdInput)
    .output(deliveryOutput)
    .query(({ ctx, input }) => getDelivery(ctx.db(), input.id)),

  /** The Overview's card: endpoints with dead letters or consecutive failures in the last 24 h. */
  failingEndpoints: staffProcedure("viewer")
    .output(failingEndpointsOutput)
    .query(({ ctx }) => failingEndpoints(ctx.db())),

  /** A delivered or failed delivery back to pending, same webhook-id. */
  replay: staffProcedure("admin")
    .input(deliveryIdInput)
    .output(deliveryOutput)
    .mutation(({ ctx, input }) => replayDeliveryAsStaff(ctx.db(), input.id, ctx.actor)),
});
