import type { Metadata } from "next";

import { roleAtLeast } from "@/server/auth";
import { api, currentStaff, HydrateClient } from "@/trpc/server";

import { ApiKeysManager } from "./api-keys-manager";

// Reads the database on every request; `next build` must not prerender it.
export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "API keys" };

/** Product-app API keys (admin only): list with scopes and last use, create, revoke. */
export default async function ApiKeysPage() {
  const session = await currentStaff();
  if (!session || !roleAtLeast(session.user.role, "admin")) {
    return (
      <>
        <h1>API keys</h1>
        <div className="notice" role="alert">
          <p>
            <strong>Admins only.</strong> Your role ({session?.user.role ?? "none"}) cannot see or manage API keys.
          </p>
        </div>
      </>
    );
  }
  await api.billing.apiKeys.list.prefetch();
  return (
    <HydrateClient>
      <h1>API keys</h1>
      <p className="muted">
        Keys the product app sends as <code>Authorization: Bearer …</code>. Only a hash of each secret is stored: a new key&apos;s secret is
        shown once, right after it is created.
      </p>
      <ApiKeysManager />
    </HydrateClient>
  );
}
