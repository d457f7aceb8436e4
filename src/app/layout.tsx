import type { Metadata } from "next";
import { headers } from "next/headers";
import { redirect } from "next/navigation";
import type { ReactNode } from "react";

import { TRPCReactProvider } from "@/trpc/react";

import { Nav } from "./_components/nav";

import "./globals.css";

import { currentStaff } from "@/trpc/server";

export const metadata: Metadata = {
  title: { default: "Ledger & Policy billing", template: "%s · Ledger & Policy billing" },
  description: "Staff dashboard for usage, plans and billing.",
};

/**
 * Every dashboard page needs a signed-in member of staff: the session is checked here, on
 * the server, for every page (src/proxy.ts only looks for the cookie). Without one, the
 * visitor goes to /sign-in and comes back afterwards; /sign-in itself renders without the
 * navigation.
 */
export default async function RootLayout({ children }: { children: ReactNode }) {
  const requestHeaders = await headers();
  const path = requestHeaders.get("x-billing-path") ?? "/";
  const onSignIn = path === "/sign-in" || path.startsWith("/sign-in?");
  const session = await currentStaff();
  if (!session && !onSignIn) redirect(path === "/" ? "/sign-in" : `/sign-in?next=${encodeURIComponent(path)}`);

  return (
    <html lang="en">
      <body>
        <a className="skip-link" href="#main">
          Skip to content
        </a>
        {session && !onSignIn ? (
          <div className="shell">
            <aside className="sidebar">
              <p className="brand">Ledger &amp; Policy billing</p>
              <Nav staff={session.user} />
            </aside>
            <main id="main" className="content" tabIndex={-1}>
              <TRPCReactProvider>{children}</TRPCReactProvider>
            </main>
          </div>
        ) : (
          <main id="main" className="content" tabIndex={-1} style={{ maxWidth: "26rem", margin: "10vh auto" }}>
            <p className="brand" style={{ color: "inherit" }}>
              Ledger &amp; Policy billing
            </p>
            {children}
          </main>
        )}
      </body>
    </html>
  );
}
