import { z } from "zod";

import { staffRoleSchema } from "@/server/auth/roles";

/** Zod schemas of `billing.staff.*`. Creating a member takes the domain's input, re-exported (never re-declared). */

export { createStaffInput } from "@/server/auth/staff";

export const staffIdentityOutput = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string(),
  role: staffRoleSchema,
});

export const staffMemberOutput = staffIdentityOutput.extend({ createdAt: z.date() });

/** The new member; `password` only when it was generated (shown once), else null. */
export const createdStaffOutput = z.object({ staff: staffMemberOutput, password: z.string().nullable() });

export const setRoleInput = z.object({ id: z.string().min(1).max(100), role: staffRoleSchema });
