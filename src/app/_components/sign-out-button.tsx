"use client";

import { usePathname } from "next/navigation";
import { useEffect, useState } from "react";

import { authClient } from "@/server/auth/client";

/** Signs out (server-side session deleted, cookie cleared), then reloads onto /sign-in. */
export function SignOutButton() {
  const [pending, setPending] = useState(false);
  const pathname = usePathname();
  // Touch the session on navigation: better-auth slides its expiry and refreshes the cookie.
  useEffect(() => {
    void authClient.getSession();
  }, [pathname]);
  return (
    <button
      type="button"
      className="button button-secondary"
      disabled={pending}
      onClick={async () => {
        setPending(true);
        await authClient.signOut().catch(() => undefined);
        window.location.assign("/sign-in");
      }}
    >
      {pending ? "Signing out…" : "Sign out"}
    </button>
  );
}
