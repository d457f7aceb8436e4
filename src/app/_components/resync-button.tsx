"use client";

import { useRouter } from "next/navigation";
import { useState } from "react";

import type { RouterOutputs } from "@/server/api/root";
import { api } from "@/trpc/react";

type Report = RouterOutputs["billing"]["dodo"]["resync"];

/**
 * "Resync from Dodo" (admins; pages show it to them only and the server refuses anyone
 * else): fetches one org's subscriptions — or, without `orgId`, every known subscription —
 * from the Dodo API and syncs them, then shows the report and re-renders the page. Without
 * an API key the server answers a typed error, shown here.
 */
export function ResyncButton({ orgId, label = "Resync from Dodo" }: { orgId?: string; label?: string }) {
  const router = useRouter();
  const [report, setReport] = useState<Report | null>(null);
  const resync = api.billing.dodo.resync.useMutation({
    onSuccess: (result) => {
      setReport(result);
      router.refresh();
    },
  });

  return (
    <div className="resync">
      <button
        type="button"
        className="button button-secondary"
        disabled={resync.isPending}
        onClick={() => {
          setReport(null);
          resync.mutate({ orgId });
        }}
      >
        {resync.isPending ? "Resyncing…" : label}
      </button>
      {resync.error ? (
        <p role="alert" className="error-panel">
          {resync.error.message}
        </p>
      ) : null}
      {report ? (
        <div role="status" aria-label="Resync report">
          <p>
            Checked {report.checked} · synced {report.synced} · stale {report.stale} · problems {report.problems.length}
            {report.checked === 0 ? " — no known subscription to fetch." : "."}
          </p>
          {report.problems.length ? (
            <ul>
              {report.problems.map((p) => (
                <li key={p.subscriptionId}>
                  <code>{p.subscriptionId}</code>: {p.error}
                </li>
              ))}
            </ul>
          ) : null}
        </div>
      ) : null}
    </div>
  );
}
