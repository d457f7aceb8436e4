"use client";

import { useRouter } from "next/navigation";
import { useState, type FormEvent } from "react";

import { api } from "@/trpc/react";

/**
 * Admin-only: starts a dry run or an apply in the background of the server and opens the
 * run's page to watch it. The page renders this for admins only; the server refuses anyone
 * else (FORBIDDEN), and refuses an apply while another one runs over the same
 * organizations (CONFLICT, shown here).
 */
export function StartRunForm({
  defaults,
}: {
  defaults: { batchSize: number; concurrency: number; maxBatchSize: number; maxConcurrency: number };
}) {
  const router = useRouter();
  const [mode, setMode] = useState<"dry_run" | "apply" | null>(null);
  const start = api.billing.backfill.start.useMutation({ onSuccess: (run) => router.push(`/backfill/${run.id}`) });

  function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const submitter = (event.nativeEvent as SubmitEvent).submitter as HTMLButtonElement | null;
    const chosen = submitter?.value === "apply" ? "apply" : "dry_run";
    const form = new FormData(event.currentTarget);
    const number = (name: string) => {
      const raw = String(form.get(name) ?? "").trim();
      // Anything but whole digits goes to the server as it is, to get its typed answer.
      return /^\d{1,9}$/.test(raw) ? Number(raw) : (raw as unknown as number);
    };
    setMode(chosen);
    start.mutate({
      mode: chosen,
      orgPrefix: String(form.get("orgPrefix") ?? ""),
      batchSize: number("batchSize"),
      concurrency: number("concurrency"),
    });
  }

  return (
    <section aria-labelledby="start-title" className="admin-panel">
      <h2 id="start-title">Start a run</h2>
      <p className="muted">
        A dry run only writes the diff report. An apply also writes, per organization in one transaction, a <code>migration</code> ledger
        row for each difference and the matching cache change, while live traffic keeps flowing; it ends by verifying its organizations
        again. Runs execute in the background; you can leave the page.
      </p>
      <form onSubmit={onSubmit} className="filters" aria-label="Start a run">
        <div className="field">
          <label htmlFor="start-prefix">Org slug prefix (optional)</label>
          <input id="start-prefix" name="orgPrefix" maxLength={100} placeholder="All organizations" autoComplete="off" />
        </div>
        <div className="field">
          <label htmlFor="start-batch">Batch size</label>
          <input
            id="start-batch"
            name="batchSize"
            type="number"
            min={1}
            max={defaults.maxBatchSize}
            defaultValue={defaults.batchSize}
            className="input-short"
          />
        </div>
        <div className="field">
          <label htmlFor="start-concurrency">Concurrency</label>
          <input
            id="start-concurrency"
            name="concurrency"
            type="number"
            min={1}
            max={defaults.maxConcurrency}
            defaultValue={defaults.concurrency}
            className="input-short"
          />
        </div>
        <button type="submit" name="mode" value="dry_run" className="button" disabled={start.isPending}>
          {start.isPending && mode === "dry_run" ? "Starting…" : "Start dry run"}
        </button>
        <button type="submit" name="mode" value="apply" className="button button-secondary" disabled={start.isPending}>
          {start.isPending && mode === "apply" ? "Starting…" : "Start apply"}
        </button>
      </form>
      {start.error ? (
        <p role="alert" className="error-panel">
          {start.error.message}
        </p>
      ) : null}
    </section>
  );
}
