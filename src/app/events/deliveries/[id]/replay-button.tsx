"use client";

import { useRouter } from "next/navigation";

import { api } from "@/trpc/react";

/** An admin sends a delivered or failed delivery again (same webhook-id). */
export function ReplayButton({ id }: { id: string }) {
  const router = useRouter();
  const replay = api.billing.events.replay.useMutation({ onSuccess: () => router.refresh() });
  return (
    <>
      <button type="button" className="button" disabled={replay.isPending} onClick={() => replay.mutate({ id })}>
        {replay.isPending ? "Replaying…" : "Replay"}
      </button>
      {replay.error ? (
        <p role="alert" className="error-panel">
          {replay.error.message}
        </p>
      ) : null}
    </>
  );
}
