import { z } from "zod";
import { staffRoleSchema } from "@/server/auth/roles";

/** Zod schemas of `billing.staff.*`. */

export const staffIdentityOutput = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string(),
  role: staffRoleSchema,
});

export const staffMemberOutput = staffIdentityOutput.extend({ createdAt: z.date() });

export const createStaffInput = z.object({
  email: z.email().max(254),
  name: z.string().trim().min(1).max(100).optional(),
  role: staffRoleSchema,
  /** Omitted: a password is generated and returned once. */
  password: z.string().min(10).max(128).optional(),
});

/** The new member; `password` only when it was generated (shown once), else null. */
export const createdStaffOutput = z.object({ staff: staffMemberOutput, password: z.string().nullable() });

export const setRoleInput = z.object({ id: z.string().min(1).max(100), role: staffRoleSchema });
