"use client";

import { useState, type FormEvent } from "react";

import { CheckboxGroup } from "@/app/_components/checkbox-group";
import { API_SCOPES, type ApiScope } from "@/server/billing/api-scopes";
import { api } from "@/trpc/react";

import { DataTable } from "../_components/data-table";

// The scopes of src/server/billing/api-keys.ts (that module is server-only: node:crypto).

const dateTime = (d: Date | null) => (d ? `${d.toISOString().slice(0, 16).replace("T", " ")} UTC` : "never");

export function ApiKeysManager() {
  const utils = api.useUtils();
  const keys = api.billing.apiKeys.list.useQuery();
  const [created, setCreated] = useState<{ name: string; secret: string } | null>(null);
  const create = api.billing.apiKeys.create.useMutation({
    onSuccess: async ({ key, secret }) => {
      setCreated({ name: key.name, secret });
      await utils.billing.apiKeys.list.invalidate();
    },
  });
  const revoke = api.billing.apiKeys.revoke.useMutation({
    onSuccess: () => utils.billing.apiKeys.list.invalidate(),
  });

  function onCreate(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const scopes = form.getAll("scopes").map(String) as ApiScope[];
    setCreated(null);
    create.mutate({ name: String(form.get("name") ?? ""), scopes });
  }

  return (
    <>
      <section aria-labelledby="create-key" style={{ marginBottom: "1.5rem" }}>
        <h2 id="create-key">Create a key</h2>
        <form onSubmit={onCreate} className="filters" aria-label="Create an API key">
          <div className="field">
            <label htmlFor="key-name">Name</label>
            <input id="key-name" name="name" required maxLength={100} placeholder="e.g. product-app production" />
          </div>
          <CheckboxGroup legend="Scopes" name="scopes" values={API_SCOPES} />
          <button type="submit" className="button" disabled={create.isPending}>
            {create.isPending ? "Creating…" : "Create key"}
          </button>
        </form>
        {create.error ? (
          <p role="alert" className="error-panel">
            {create.error.message}
          </p>
        ) : null}
        {created ? (
          <div className="notice" role="status" aria-label="New API key">
            <p>
              Secret of <strong>{created.name}</strong> — copy it now, it will not be shown again:
            </p>
            <p>
              <code data-testid="new-api-key-secret" style={{ userSelect: "all", overflowWrap: "anywhere" }}>
                {created.secret}
              </code>
            </p>
            <button type="button" className="button button-secondary" onClick={() => setCreated(null)}>
              Done
            </button>
          </div>
        ) : null}
      </section>

      <section aria-labelledby="key-list">
        <h2 id="key-list">Keys</h2>
        {keys.isPending ? (
          <p className="loading">Loading keys…</p>
        ) : keys.error ? (
          <p role="alert" className="error-panel">
            Could not load the keys: {keys.error.message}
          </p>
        ) : keys.data.length === 0 ? (
          <div className="empty">
            <p>No API keys yet.</p>
          </div>
        ) : (
          <DataTable labelledBy="key-list">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Prefix</th>
                <th scope="col">Scopes</th>
                <th scope="col">Created</th>
                <th scope="col">Last used</th>
                <th scope="col">Status</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {keys.data.map((key) => (
                <tr key={key.id}>
                  <th scope="row">{key.name}</th>
                  <td>
                    <code>{key.prefix}</code>
                  </td>
                  <td>{key.scopes.join(", ")}</td>
                  <td>
                    {dateTime(key.createdAt)} <span className="muted">by {key.createdBy}</span>
                  </td>
                  <td>{dateTime(key.lastUsedAt)}</td>
                  <td>{key.revokedAt ? `Revoked ${dateTime(key.revokedAt)}` : "Active"}</td>
                  <td>
                    {key.revokedAt ? null : (
                      <button
                        type="button"
                        className="button button-secondary"
                        aria-label={`Revoke ${key.name}`}
                        disabled={revoke.isPending}
                        onClick={() => {
                          if (window.confirm(`Revoke “${key.name}”? The product app using it stops working at once.`)) {
                            revoke.mutate({ id: key.id });
                          }
                        }}
                      >
                        Revoke
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </DataTable>
        )}
        {revoke.error ? (
          <p role="alert" className="error-panel">
            {revoke.error.message}
          </p>
        ) : null}
      </section>
    </>
  );
}
