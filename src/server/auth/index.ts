import { prisma, type PrismaClient } from "@/server/db/client";

import { createStaffAuth, type StaffAuth } from "./auth";
import { staffRoleSchema, type StaffSession } from "./roles";
import { StaffService } from "./staff";

export { createStaffAuth, type StaffAuth } from "./auth";
export { roleAtLeast, STAFF_ROLES, staffRoleSchema, type StaffIdentity, type StaffRole, type StaffSession } from "./roles";

// One instance per Prisma client: the process-wide one for the app, a test's own in tests.
const instances = new WeakMap<PrismaClient, StaffAuth>();

/** The better-auth instance over `client` (default: the process-wide one), created on first use. */
export function staffAuth(client?: PrismaClient): StaffAuth {
  const db = client ?? prisma();
  let auth = instances.get(db);
  if (!auth) {
    auth = createStaffAuth(db);
    instances.set(db, auth);
  }
  return auth;
}

/** Staff management over `client` (default: the process-wide one), hashing with its better-auth instance. */
export function staffService(client?: PrismaClient): StaffService {
  const db = client ?? prisma();
  return new StaffService(db, staffAuth(db));
}

/**
 * The signed-in member of staff behind a request's cookies, or null (no cookie, an expired
 * or revoked session, a bad signature, or a user whose role is not a staff role).
 */
export async function getStaffSession(headers: Headers, client?: PrismaClient): Promise<StaffSession | null> {
  if (!headers.get("cookie")) return null;
  const session = await staffAuth(client).api.getSession({ headers });
  if (!session) return null;
  const role = staffRoleSchema.safeParse(session.user.role);
  if (!role.success) return null;
  const { id, email, name } = session.user;
  return { user: { id, email, name, role: role.data } };
}
