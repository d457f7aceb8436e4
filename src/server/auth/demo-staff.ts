import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

import type { PrismaClient } from "@/server/db/client";
import { dataRoot } from "@/server/db/embedded/data-dir";

import { createStaffAuth } from "./auth";
import { STAFF_ROLES, type StaffRole } from "./roles";
import { StaffService } from "./staff";

export interface DemoSignIn {
  email: string;
  role: StaffRole;
  /** null when the user existed before and its password is not on file. */
  password: string | null;
}

export const DEMO_STAFF_EMAILS: Record<StaffRole, string> = {
  viewer: "viewer@demo.local",
  finance: "finance@demo.local",
  admin: "admin@demo.local",
};

/**
 * For the embedded default only (`npm start` without DATABASE_URL): one demo user per role,
 * `viewer@demo.local`, `finance@demo.local`, `admin@demo.local`, each with a generated
 * password. The passwords are kept in `<data dir>/demo-staff.json` (mode 0600, next to the
 * embedded database and as private) so every `npm start` can print the sign-ins again.
 * Users that already exist are left as they are.
 */
export async function seedDemoStaff(prisma: PrismaClient, options: { dataDir?: string; actor?: string } = {}): Promise<DemoSignIn[]> {
  const file = path.resolve(options.dataDir ?? dataRoot(), "demo-staff.json");
  const known: Record<string, string> = existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as Record<string, string>) : {};
  // The auth instance only hashes passwords here (no requests, no cookies).
  const staff = new StaffService(prisma, createStaffAuth(prisma, { baseURL: "http://localhost" }));
  const result: DemoSignIn[] = [];
  let changed = false;
  for (const role of STAFF_ROLES) {
    const email = DEMO_STAFF_EMAILS[role];
    if (await staff.findByEmail(email)) {
      result.push({ email, role, password: known[email] ?? null });
      continue;
    }
    const { password } = await staff.create({ email, role, name: `Demo ${role}` }, options.actor ?? "system:npm-start");
    known[email] = password;
    changed = true;
    result.push({ email, role, password });
  }
  if (changed) writeFileSync(file, `${JSON.stringify(known, null, 2)}\n`, { mode: 0o600 });
  return result;
}
