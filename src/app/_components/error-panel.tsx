"use client";

import { useEffect } from "react";

/** The body of an `error.tsx` boundary: says what failed, offers a retry, logs the error. */
export function ErrorPanel({ title, error, retry }: { title: string; error: unknown; retry: () => void }) {
  useEffect(() => {
    console.error(error);
  }, [error]);
  const digest =
    typeof error === "object" && error !== null && "digest" in error && typeof error.digest === "string" ? error.digest : undefined;

  return (
    <section className="error-panel" role="alert" aria-labelledby="error-title">
      <h2 id="error-title">{title}</h2>
      <p>The server could not answer. If the database is starting or restarting, trying again in a moment usually helps.</p>
      {digest ? (
        <p className="muted">
          Reference for the server log: <code>{digest}</code>
        </p>
      ) : null}
      <button type="button" className="button" onClick={() => retry()}>
        Try again
      </button>
    </section>
  );
}
