"use client";

import { useRouter } from "next/navigation";
import { useState, type FormEvent } from "react";

import type { LimitKind } from "@/server/billing/catalogue";
import type { MetricName } from "@/server/billing/metrics";
import { api } from "@/trpc/react";

import { MetricSelect } from "../../_components/metric-select";
import { countFromForm } from "../../_lib/count-input";

/**
 * Admin-only forms of the organization page: a manual adjustment and limit overrides. The
 * page renders them for admins only; the server refuses them (FORBIDDEN) for anyone else.
 * After a mutation, `router.refresh()` re-renders the server components with the new state.
 */
export function AdjustUsageForm({ orgId }: { orgId: string }) {
  const router = useRouter();
  // One key per submission attempt: a double submit (or a retry of the same attempt) applies once.
  const [key, setKey] = useState(() => crypto.randomUUID());
  const [done, setDone] = useState<string | null>(null);
  const adjust = api.billing.orgs.adjust.useMutation({
    onSuccess: (result) => {
      setDone(`${result.replayed ? "Already applied" : "Applied"}: ${result.entry.metric} is now ${result.count.toString()}.`);
      setKey(crypto.randomUUID());
      router.refresh();
    },
  });

  function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const amount = String(form.get("amount") ?? "").trim();
    setDone(null);
    adjust.mutate({
      orgId,
      metric: String(form.get("metric")) as MetricName,
      amount: countFromForm(amount),
      note: String(form.get("note") ?? ""),
      idempotencyKey: key,
    });
  }

  return (
    <section aria-labelledby="adjust-title" className="admin-panel">
      <h3 id="adjust-title">Manual adjustment</h3>
      <form onSubmit={onSubmit} className="filters" aria-label="Manual adjustment">
        <div className="field">
          <label htmlFor="adjust-metric">Metric</label>
          <MetricSelect id="adjust-metric" defaultValue="members" />
        </div>
        <div className="field">
          <label htmlFor="adjust-amount">Amount (signed)</label>
          <input id="adjust-amount" name="amount" required inputMode="numeric" pattern="[+\-]?[0-9]+" placeholder="e.g. +2 or -1" />
        </div>
        <div className="field field-wide">
          <label htmlFor="adjust-note">Reason</label>
          <input id="adjust-note" name="note" required minLength={3} maxLength={500} placeholder="Why (kept in the ledger)" />
        </div>
        <button type="submit" className="button" disabled={adjust.isPending}>
          {adjust.isPending ? "Applying…" : "Apply adjustment"}
        </button>
      </form>
      <MutationFeedback error={adjust.error} done={done} />
    </section>
  );
}

export function SetOverrideForm({ orgId }: { orgId: string }) {
  const router = useRouter();
  const [kind, setKind] = useState<LimitKind>("hard");
  const [done, setDone] = useState<string | null>(null);
  const set = api.billing.overrides.set.useMutation({
    onSuccess: (o) => {
      setDone(`Override set on ${o.metric}.`);
      router.refresh();
    },
  });

  function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const value = String(form.get("value") ?? "").trim();
    const expires = String(form.get("expiresAt") ?? "").trim();
    setDone(null);
    set.mutate({
      orgId,
      metric: String(form.get("metric")) as MetricName,
      kind,
      value: kind === "unlimited" ? undefined : countFromForm(value),
      // A date means the end of that UTC day.
      expiresAt: expires ? new Date(`${expires}T23:59:59.999Z`) : undefined,
      note: String(form.get("note") ?? ""),
    });
  }

  return (
    <section aria-labelledby="override-title" className="admin-panel">
      <h3 id="override-title">Set a limit override</h3>
      <form onSubmit={onSubmit} className="filters" aria-label="Set a limit override">
        <div className="field">
          <label htmlFor="override-metric">Metric</label>
          <MetricSelect id="override-metric" defaultValue="members" />
        </div>
        <div className="field">
          <label htmlFor="override-kind">Kind</label>
          <select id="override-kind" name="kind" value={kind} onChange={(e) => setKind(e.target.value as typeof kind)}>
            <option value="hard">hard</option>
            <option value="soft">soft</option>
            <option value="unlimited">unlimited</option>
          </select>
        </div>
        {kind === "unlimited" ? null : (
          <div className="field">
            <label htmlFor="override-value">Limit</label>
            <input id="override-value" name="value" required inputMode="numeric" pattern="[0-9]+" placeholder="e.g. 50" />
          </div>
        )}
        <div className="field">
          <label htmlFor="override-expires">Expires (UTC, optional)</label>
          <input id="override-expires" name="expiresAt" type="date" />
        </div>
        <div className="field field-wide">
          <label htmlFor="override-note">Note</label>
          <input id="override-note" name="note" required minLength={3} maxLength={500} placeholder="Why" />
        </div>
        <button type="submit" className="button" disabled={set.isPending}>
          {set.isPending ? "Saving…" : "Set override"}
        </button>
      </form>
      <MutationFeedback error={set.error} done={done} />
    </section>
  );
}

export function RevokeOverrideButton({ id, metric }: { id: string; metric: string }) {
  const router = useRouter();
  const revoke = api.billing.overrides.revoke.useMutation({ onSuccess: () => router.refresh() });
  return (
    <>
      <button
        type="button"
        className="button button-secondary"
        disabled={revoke.isPending}
        aria-label={`Revoke the ${metric} override`}
        onClick={() => revoke.mutate({ id })}
      >
        {revoke.isPending ? "Revoking…" : "Revoke"}
      </button>
      {revoke.error ? (
        <span role="alert" className="error-panel">
          {revoke.error.message}
        </span>
      ) : null}
    </>
  );
}

/** What a form's mutation answered: the typed error's message, or what it did. */
function MutationFeedback({ error, done }: { error: { message: string } | null; done: string | null }) {
  return (
    <>
      {error ? (
        <p role="alert" className="error-panel">
          {error.message}
        </p>
      ) : null}
      {done ? <p role="status">{done}</p> : null}
    </>
  );
}
