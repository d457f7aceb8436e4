"use client";

import { useState, type FormEvent } from "react";

import { CheckboxGroup } from "@/app/_components/checkbox-group";
import { SUBSCRIBABLE_EVENT_TYPES } from "@/server/billing/events/event-types";
import { api } from "@/trpc/react";

import { DataTable } from "../_components/data-table";

type EventType = (typeof SUBSCRIBABLE_EVENT_TYPES)[number];

/** Webhook endpoints: list for everyone; create, edit, disable, rotate, send a test for admins. The secret is shown once. */
export function EndpointsManager({ canWrite }: { canWrite: boolean }) {
  const utils = api.useUtils();
  const endpoints = api.billing.events.endpoints.useQuery();
  const [secret, setSecret] = useState<{ url: string; secret: string } | null>(null);
  const [tested, setTested] = useState<string | null>(null);
  const refresh = () => utils.billing.events.endpoints.invalidate();
  const create = api.billing.events.createEndpoint.useMutation({
    onSuccess: async (r) => {
      setSecret({ url: r.endpoint.url, secret: r.secret });
      await refresh();
    },
  });
  const rotate = api.billing.events.rotateSecret.useMutation({
    onSuccess: async (r) => {
      setSecret({ url: r.endpoint.url, secret: r.secret });
      await refresh();
    },
  });
  const update = api.billing.events.updateEndpoint.useMutation({ onSuccess: refresh });
  const sendTest = api.billing.events.sendTest.useMutation({ onSuccess: (r) => setTested(r.deliveryId) });
  const error = create.error ?? rotate.error ?? update.error ?? sendTest.error;

  function onCreate(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setSecret(null);
    create.mutate({
      url: String(form.get("url") ?? ""),
      description: String(form.get("description") ?? ""),
      eventTypes: form.getAll("eventTypes").map(String) as EventType[],
    });
  }

  function onEdit(id: string, current: string) {
    const url = window.prompt("Endpoint URL", current);
    if (url && url !== current) update.mutate({ id, url });
  }

  return (
    <>
      {canWrite ? (
        <section aria-labelledby="create-endpoint" style={{ marginBottom: "1.5rem" }}>
          <h2 id="create-endpoint">Add an endpoint</h2>
          <form onSubmit={onCreate} className="filters" aria-label="Add a webhook endpoint">
            <div className="field">
              <label htmlFor="endpoint-url">URL</label>
              <input id="endpoint-url" name="url" required maxLength={2000} placeholder="https://app.example.com/webhooks/billing" />
            </div>
            <div className="field">
              <label htmlFor="endpoint-description">Description</label>
              <input id="endpoint-description" name="description" maxLength={500} />
            </div>
            <CheckboxGroup legend="Events" name="eventTypes" values={SUBSCRIBABLE_EVENT_TYPES} />
            <button type="submit" className="button" disabled={create.isPending}>
              {create.isPending ? "Adding…" : "Add endpoint"}
            </button>
          </form>
        </section>
      ) : null}
      {error ? (
        <p role="alert" className="error-panel">
          {error.message}
        </p>
      ) : null}
      {secret ? (
        <div className="notice" role="status" aria-label="Signing secret">
          <p>
            Signing secret of <strong>{secret.url}</strong> — copy it now, it will not be shown again:
          </p>
          <p>
            <code data-testid="endpoint-secret" style={{ userSelect: "all", overflowWrap: "anywhere" }}>
              {secret.secret}
            </code>
          </p>
          <button type="button" className="button button-secondary" onClick={() => setSecret(null)}>
            Done
          </button>
        </div>
      ) : null}
      {tested ? (
        <p role="status" className="notice">
          Test event queued: <a href={`/events/deliveries/${tested}`}>see its delivery</a>.
        </p>
      ) : null}

      <section aria-labelledby="endpoint-list">
        <h2 id="endpoint-list">Endpoints</h2>
        {endpoints.isPending ? (
          <p className="loading">Loading endpoints…</p>
        ) : endpoints.error ? (
          <p role="alert" className="error-panel">
            Could not load the endpoints: {endpoints.error.message}
          </p>
        ) : endpoints.data.length === 0 ? (
          <div className="empty">
            <p>No endpoints yet.</p>
          </div>
        ) : (
          <DataTable labelledBy="endpoint-list">
            <thead>
              <tr>
                <th scope="col">URL</th>
                <th scope="col">Events</th>
                <th scope="col">Status</th>
                <th scope="col">Previous secret valid until</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {endpoints.data.map((e) => (
                <tr key={e.id}>
                  <th scope="row">
                    <a href={`/events?endpoint=${e.id}`}>{e.url}</a>
                    {e.description ? <div className="muted">{e.description}</div> : null}
                  </th>
                  <td>{e.eventTypes.join(", ")}</td>
                  <td>{e.enabled ? "Enabled" : "Disabled"}</td>
                  <td>
                    {e.previousSecretExpiresAt ? `${e.previousSecretExpiresAt.toISOString().slice(0, 16).replace("T", " ")} UTC` : "—"}
                  </td>
                  <td>
                    {canWrite ? (
                      <>
                        <button
                          type="button"
                          className="button button-secondary"
                          onClick={() => sendTest.mutate({ id: e.id })}
                          aria-label={`Send a test event to ${e.url}`}
                        >
                          Send test
                        </button>{" "}
                        <button
                          type="button"
                          className="button button-secondary"
                          onClick={() => onEdit(e.id, e.url)}
                          aria-label={`Edit ${e.url}`}
                        >
                          Edit URL
                        </button>{" "}
                        <button
                          type="button"
                          className="button button-secondary"
                          onClick={() => update.mutate({ id: e.id, enabled: !e.enabled })}
                          aria-label={`${e.enabled ? "Disable" : "Enable"} ${e.url}`}
                        >
                          {e.enabled ? "Disable" : "Enable"}
                        </button>{" "}
                        <button
                          type="button"
                          className="button button-secondary"
                          aria-label={`Rotate the secret of ${e.url}`}
                          onClick={() => {
                            if (window.confirm("Rotate the signing secret? The current one keeps signing for 24 hours."))
                              rotate.mutate({ id: e.id });
                          }}
                        >
                          Rotate secret
                        </button>
                      </>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </DataTable>
        )}
      </section>
    </>
  );
}
