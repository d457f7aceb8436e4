import type { Metadata } from "next";
import Link from "next/link";

import { roleAtLeast } from "@/server/auth";
import { api, currentStaff } from "@/trpc/server";

import { DataTable } from "../../../_components/data-table";
import { UtcTime } from "../../../_components/utc-time";
import { ReplayButton } from "./replay-button";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Event delivery" };

/** One delivery: the request envelope, the last answer, every attempt, the next one; replay for admins. */
export default async function DeliveryPage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  const session = await currentStaff();
  const d = await api.billing.events.delivery({ id });
  return (
    <>
      <p>
        <Link href="/events">← Events</Link>
      </p>
      <h1>
        Delivery of <code>{d.eventType}</code>
      </h1>
      <dl className="facts">
        <dt>webhook-id</dt>
        <dd>
          <code>{d.eventId}</code>
        </dd>
        <dt>Endpoint</dt>
        <dd>{d.endpointUrl}</dd>
        <dt>Status</dt>
        <dd>{d.status}</dd>
        <dt>Attempts</dt>
        <dd>{d.attempts}</dd>
        <dt>Last answer</dt>
        <dd>{d.responseStatus ?? "—"}</dd>
        <dt>Next attempt (UTC)</dt>
        <dd>{d.status === "pending" ? <UtcTime value={d.nextAttemptAt} precision="second" /> : "—"}</dd>
      </dl>
      {roleAtLeast(session?.user.role, "admin") && d.status !== "pending" ? <ReplayButton id={d.id} /> : null}
      <h2>Request body</h2>
      <pre className="json">{JSON.stringify(d.envelope, null, 2)}</pre>
      <h2>Last answer&apos;s body (first 2 KB)</h2>
      <pre>{d.responseBody ?? "—"}</pre>
      <h2 id="attempts">Attempts</h2>
      {d.history.length === 0 ? (
        <p className="muted">Not attempted yet.</p>
      ) : (
        <DataTable labelledBy="attempts">
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">At (UTC)</th>
              <th scope="col">Duration</th>
              <th scope="col">Status</th>
              <th scope="col">Error</th>
              <th scope="col">Body excerpt</th>
            </tr>
          </thead>
          <tbody>
            {d.history.map((a) => (
              <tr key={a.attempt}>
                <td>{a.attempt}</td>
                <td>
                  <UtcTime value={a.attemptedAt} precision="second" />
                </td>
                <td>{a.durationMs} ms</td>
                <td>{a.responseStatus ?? "—"}</td>
                <td>{a.error ?? "—"}</td>
                <td>
                  <code>{(a.responseBody ?? "").slice(0, 200)}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </DataTable>
      )}
    </>
  );
}
