"use client";

import { useState, type FormEvent } from "react";

import { authClient } from "@/server/auth/client";

import { safeNext } from "./safe-next";

export function SignInForm({ next }: { next: string }) {
  const [error, setError] = useState<string | null>(null);
  const [pending, setPending] = useState(false);

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setPending(true);
    setError(null);
    const { error: failure } = await authClient.signIn.email({
      email: String(form.get("email") ?? "").trim(),
      password: String(form.get("password") ?? ""),
    });
    if (failure) {
      setPending(false);
      setError(
        failure.status === 429
          ? "Too many sign-in attempts. Wait a minute, then try again."
          : failure.status === 401 || failure.status === 400
            ? "Wrong email or password."
            : `Sign-in failed: ${failure.message ?? failure.statusText ?? "unknown error"}`,
      );
      return;
    }
    // A full load, so the server renders the dashboard with the new session.
    window.location.assign(safeNext(next));
  }

  return (
    <form onSubmit={onSubmit} aria-label="Sign in" noValidate={false}>
      <div className="field" style={{ marginBottom: "0.75rem" }}>
        <label htmlFor="email">Email</label>
        <input id="email" name="email" type="email" autoComplete="username" required autoFocus />
      </div>
      <div className="field" style={{ marginBottom: "0.75rem" }}>
        <label htmlFor="password">Password</label>
        <input id="password" name="password" type="password" autoComplete="current-password" required />
      </div>
      {error ? (
        <p role="alert" className="error-panel" style={{ padding: "0.5rem 0.75rem" }}>
          {error}
        </p>
      ) : null}
      <button type="submit" className="button" disabled={pending}>
        {pending ? "Signing in…" : "Sign in"}
      </button>
    </form>
  );
}
