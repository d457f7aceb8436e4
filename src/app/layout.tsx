import type { Metadata } from "next";
import type { ReactNode } from "react";
import { TRPCReactProvider } from "@/trpc/react";
import { Nav } from "./_components/nav";
import "./globals.css";

export const metadata: Metadata = {
  title: { default: "Ledger & Policy billing", template: "%s · Ledger & Policy billing" },
  description: "Staff dashboard for usage, plans and billing.",
};

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>
        <a className="skip-link" href="#main">
          Skip to content
        </a>
        <div className="shell">
          <aside className="sidebar">
            <p className="brand">Ledger &amp; Policy billing</p>
            <Nav />
          </aside>
          <main id="main" className="content" tabIndex={-1}>
            <TRPCReactProvider>{children}</TRPCReactProvider>
          </main>
        </div>
      </body>
    </html>
  );
}
