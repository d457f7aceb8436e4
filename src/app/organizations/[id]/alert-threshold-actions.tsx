"use client";

import { useRouter } from "next/navigation";
import { useState, type FormEvent } from "react";

import type { MetricName } from "@/server/billing/metrics";
import type { AlertThresholdKind } from "@/server/billing/usage-alerts/org-thresholds";
import { api } from "@/trpc/react";

import { MetricSelect } from "../../_components/metric-select";
import { countFromForm } from "../../_lib/count-input";

/**
 * Admin-only controls of the "Alert thresholds" section: add an org threshold, remove one.
 * The page renders them for admins only; the server refuses them (FORBIDDEN) for anyone else.
 */
export function AddAlertThresholdForm({ orgId }: { orgId: string }) {
  const router = useRouter();
  const [kind, setKind] = useState<AlertThresholdKind>("percent");
  const [done, setDone] = useState<string | null>(null);
  const add = api.billing.alertThresholds.add.useMutation({
    onSuccess: (t) => {
      setDone(`Threshold added on ${t.metric}.`);
      router.refresh();
    },
  });

  function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const value = String(form.get("value") ?? "").trim();
    setDone(null);
    add.mutate({
      orgId,
      metric: String(form.get("metric")) as MetricName,
      kind,
      value: countFromForm(value),
    });
  }

  return (
    <form onSubmit={onSubmit} className="filters" aria-label="Add an alert threshold">
      <div className="field">
        <label htmlFor="threshold-metric">Metric</label>
        <MetricSelect id="threshold-metric" defaultValue="api_calls" />
      </div>
      <div className="field">
        <label htmlFor="threshold-kind">Kind</label>
        <select id="threshold-kind" name="kind" value={kind} onChange={(e) => setKind(e.target.value as AlertThresholdKind)}>
          <option value="percent">percent of the limit</option>
          <option value="absolute">absolute count</option>
        </select>
      </div>
      <div className="field">
        <label htmlFor="threshold-value">{kind === "percent" ? "Percent (1–1000)" : "Count"}</label>
        <input
          id="threshold-value"
          name="value"
          required
          inputMode="numeric"
          pattern="[0-9]+"
          placeholder={kind === "percent" ? "e.g. 50" : "e.g. 1000"}
        />
      </div>
      <button type="submit" className="button" disabled={add.isPending}>
        {add.isPending ? "Adding…" : "Add threshold"}
      </button>
      {add.error ? (
        <p role="alert" className="error-panel">
          {add.error.message}
        </p>
      ) : null}
      {done ? <p role="status">{done}</p> : null}
    </form>
  );
}

export function RemoveAlertThresholdButton({ id, description }: { id: string; description: string }) {
  const router = useRouter();
  const remove = api.billing.alertThresholds.remove.useMutation({ onSuccess: () => router.refresh() });
  return (
    <>
      <button
        type="button"
        className="button button-secondary"
        disabled={remove.isPending}
        aria-label={`Remove the threshold ${description}`}
        onClick={() => remove.mutate({ id })}
      >
        {remove.isPending ? "Removing…" : "Remove"}
      </button>
      {remove.error ? (
        <span role="alert" className="error-panel">
          {remove.error.message}
        </span>
      ) : null}
    </>
  );
}
