"use client";

import { useRouter } from "next/navigation";
import { useState } from "react";

import { api } from "@/trpc/react";

import { STATUS_LABELS } from "../format";

/**
 * "Replay" for a stored event (admins; the page renders it for them only and the server
 * refuses anyone else). Shows what the replay did, then re-renders the page with the stored
 * state. Rendered for every event so its answer outlives that refresh: once the event is no
 * longer `replayable` (e.g. now processed) the button goes and the answer stays.
 */
export function ReplayButton({ id, replayable }: { id: string; replayable: boolean }) {
  const router = useRouter();
  const [done, setDone] = useState<string | null>(null);
  const replay = api.billing.dodo.webhooks.replay.useMutation({
    onSuccess: ({ result }) => {
      const status = STATUS_LABELS[result.status] ?? result.status;
      if (result.duplicate) setDone(`Nothing replayed: the event is already ${status.toLowerCase()}.`);
      else if (result.status === "processed") setDone(`Replayed: processed${result.outcome ? ` (${result.outcome})` : ""}.`);
      else setDone(`Replayed: ${status.toLowerCase()}${result.error ? ` — ${result.error}` : ""}.`);
      router.refresh();
    },
  });

  if (!replayable && !done && !replay.error) return null;
  return (
    <section aria-labelledby="replay-title" className="admin-panel">
      <h3 id="replay-title">Replay</h3>
      <p className="muted">
        Processes the stored payload again (its signature was verified on receipt). At most once: an event that is already processed is left
        alone. The replay is recorded in the audit log.
      </p>
      {replayable ? (
        <button
          type="button"
          className="button"
          disabled={replay.isPending}
          onClick={() => {
            setDone(null);
            replay.mutate({ id });
          }}
        >
          {replay.isPending ? "Replaying…" : "Replay"}
        </button>
      ) : null}
      {replay.error ? (
        <p role="alert" className="error-panel">
          {replay.error.message}
        </p>
      ) : null}
      {done ? <p role="status">{done}</p> : null}
    </section>
  );
}
