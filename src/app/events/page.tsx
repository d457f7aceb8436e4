import type { Metadata } from "next";
import Link from "next/link";

import { roleAtLeast } from "@/server/auth";
import { BILLING_EVENT_TYPES, DELIVERY_STATUSES } from "@/server/billing/events/event-types";
import { api, currentStaff, HydrateClient } from "@/trpc/server";

import { DataTable } from "../_components/data-table";
import { FilterForm } from "../_components/filter-form";
import { KeysetPager } from "../_components/keyset-pager";
import { UtcTime } from "../_components/utc-time";
import { instantIdCursorParam } from "../_lib/cursor-param";
import { queryString, withQuery } from "../_lib/query-string";
import { firstParam } from "../_lib/search-params";
import { EndpointsManager } from "./endpoints-manager";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Events" };

type SearchParams = Promise<Record<string, string | string[] | undefined>>;

const deliveryCursorParam = instantIdCursorParam("createdAt", "id");
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const oneOf = <T extends string>(list: readonly T[], value: string | undefined): T | undefined =>
  (list as readonly string[]).includes(value ?? "") ? (value as T) : undefined;
const dateParam = (value: string | undefined) => {
  const d = value ? new Date(value) : undefined;
  return d && !Number.isNaN(d.getTime()) ? d : undefined;
};

/** Outgoing events: the webhook endpoints and every delivery, newest first, with filters. */
export default async function EventsPage({ searchParams }: { searchParams: SearchParams }) {
  const session = await currentStaff();
  const canWrite = roleAtLeast(session?.user.role, "admin");
  const params = await searchParams;
  const raw = {
    endpoint: firstParam(params.endpoint),
    type: firstParam(params.type),
    status: firstParam(params.status),
    org: firstParam(params.org),
    from: firstParam(params.from),
    to: firstParam(params.to),
  };
  const filter = {
    endpointId: raw.endpoint && UUID.test(raw.endpoint) ? raw.endpoint : undefined,
    type: oneOf(BILLING_EVENT_TYPES, raw.type),
    status: oneOf(DELIVERY_STATUSES, raw.status),
    orgId: raw.org && UUID.test(raw.org) ? raw.org : undefined,
    from: dateParam(raw.from),
    to: dateParam(raw.to),
  };
  const cursor = deliveryCursorParam.read(params.after);
  const [page] = await Promise.all([api.billing.events.deliveries({ filter, cursor, limit: 50 }), api.billing.events.endpoints.prefetch()]);

  return (
    <HydrateClient>
      <h1>Events</h1>
      <p className="muted">
        Signed webhooks to the product app (Standard Webhooks; receivers dedupe on <code>webhook-id</code>). Times are UTC.
      </p>
      <EndpointsManager canWrite={canWrite} />
      <h2 id="deliveries">Deliveries</h2>
      <FilterForm action="/events" label="Delivery filters" clearHref={queryString(raw) ? "/events" : null}>
        <div className="field">
          <label htmlFor="f-endpoint">Endpoint id</label>
          <input id="f-endpoint" name="endpoint" defaultValue={raw.endpoint} />
        </div>
        <div className="field">
          <label htmlFor="f-type">Type</label>
          <select id="f-type" name="type" defaultValue={filter.type ?? ""}>
            <option value="">any</option>
            {BILLING_EVENT_TYPES.map((t) => (
              <option key={t}>{t}</option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="f-status">Status</label>
          <select id="f-status" name="status" defaultValue={filter.status ?? ""}>
            <option value="">any</option>
            {DELIVERY_STATUSES.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="f-org">Org id</label>
          <input id="f-org" name="org" defaultValue={raw.org} />
        </div>
        <div className="field">
          <label htmlFor="f-from">From (UTC)</label>
          <input id="f-from" name="from" type="datetime-local" defaultValue={raw.from} />
        </div>
        <div className="field">
          <label htmlFor="f-to">To (UTC)</label>
          <input id="f-to" name="to" type="datetime-local" defaultValue={raw.to} />
        </div>
      </FilterForm>
      {page.items.length === 0 ? (
        <p className="muted">{cursor ? "No older deliveries." : "No deliveries match."}</p>
      ) : (
        <DataTable labelledBy="deliveries">
          <thead>
            <tr>
              <th scope="col">Created (UTC)</th>
              <th scope="col">Type</th>
              <th scope="col">Endpoint</th>
              <th scope="col">Status</th>
              <th scope="col">Attempts</th>
              <th scope="col">Last answer</th>
              <th scope="col">Next attempt</th>
            </tr>
          </thead>
          <tbody>
            {page.items.map((d) => (
              <tr key={d.id}>
                <td>
                  <Link href={`/events/deliveries/${d.id}`}>
                    <UtcTime value={d.createdAt} precision="second" />
                  </Link>
                </td>
                <td>{d.eventType}</td>
                <td>{d.endpointUrl}</td>
                <td>{d.status}</td>
                <td>{d.attempts}</td>
                <td>{d.responseStatus ?? d.lastError ?? "—"}</td>
                <td>{d.status === "pending" ? <UtcTime value={d.nextAttemptAt} precision="second" /> : "—"}</td>
              </tr>
            ))}
          </tbody>
        </DataTable>
      )}
      <KeysetPager
        label="Delivery pages"
        firstHref={cursor ? withQuery("/events", raw) : null}
        nextHref={page.nextCursor ? withQuery("/events", raw, { after: deliveryCursorParam.write(page.nextCursor) }) : null}
        nextLabel="Older deliveries →"
      />
    </HydrateClient>
  );
}
