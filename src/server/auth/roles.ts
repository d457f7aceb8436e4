import { z } from "zod";

/**
 * Staff roles, weakest first: `viewer` reads everything but secrets, `finance` adds ledger
 * exports, `admin` adds adjustments, overrides, API keys and staff management. Pure data, so
 * client components may import it to hide what a role cannot do (the server still refuses).
 */
export const STAFF_ROLES = ["viewer", "finance", "admin"] as const;
export const staffRoleSchema = z.enum(STAFF_ROLES);
export type StaffRole = z.infer<typeof staffRoleSchema>;

/** True when `role` is `min` or stronger. An unknown role (bad data) is never enough. */
export function roleAtLeast(role: string | null | undefined, min: StaffRole): boolean {
  const have = STAFF_ROLES.indexOf(role as StaffRole);
  return have >= 0 && have >= STAFF_ROLES.indexOf(min);
}

export interface StaffIdentity {
  id: string;
  email: string;
  name: string;
  role: StaffRole;
}

export interface StaffSession {
  user: StaffIdentity;
}
