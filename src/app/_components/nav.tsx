"use client";

import Link from "next/link";
import { usePathname } from "next/navigation";

import { roleAtLeast, type StaffIdentity, type StaffRole } from "@/server/auth/roles";

import { SignOutButton } from "./sign-out-button";

const LINKS: readonly { href: string; label: string; minRole: StaffRole }[] = [
  { href: "/", label: "Overview", minRole: "viewer" },
  { href: "/organizations", label: "Organizations", minRole: "viewer" },
  { href: "/ledger", label: "Ledger", minRole: "viewer" },
  { href: "/backfill", label: "Backfill", minRole: "viewer" },
  { href: "/webhooks", label: "Webhooks", minRole: "viewer" },
  { href: "/events", label: "Events", minRole: "viewer" },
  { href: "/api-keys", label: "API keys", minRole: "admin" },
  { href: "/audit", label: "Audit log", minRole: "admin" },
];

function isActive(pathname: string, href: string): boolean {
  return href === "/" ? pathname === "/" : pathname === href || pathname.startsWith(`${href}/`);
}

/** The main navigation: only the pages the signed-in role may use, then who is signed in. */
export function Nav({ staff }: { staff: StaffIdentity }) {
  const pathname = usePathname() ?? "/";
  return (
    <>
      <nav aria-label="Main" className="nav">
        <ul>
          {LINKS.filter((link) => roleAtLeast(staff.role, link.minRole)).map((link) => {
            const active = isActive(pathname, link.href);
            return (
              <li key={link.href}>
                <Link href={link.href} aria-current={active ? "page" : undefined} className={active ? "active" : undefined}>
                  {link.label}
                </Link>
              </li>
            );
          })}
        </ul>
      </nav>
      <section aria-label="Signed in" className="signed-in" style={{ marginTop: "2rem", fontSize: "0.85rem", overflowWrap: "anywhere" }}>
        <p style={{ margin: "0 0 0.25rem" }} data-testid="signed-in-email">
          {staff.email}
        </p>
        <p style={{ margin: "0 0 0.75rem", opacity: 0.8 }}>
          Role: <span data-testid="signed-in-role">{staff.role}</span>
        </p>
        <SignOutButton />
      </section>
    </>
  );
}
