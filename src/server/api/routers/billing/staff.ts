import { createTRPCRouter, staffProcedure } from "@/server/api/trpc";
import { staffService } from "@/server/auth";

import { createdStaffOutput, createStaffInput, setRoleInput, staffIdentityOutput, staffMemberOutput } from "./staff.types";

/**
 * `billing.staff.*`: who am I, and staff management (admin). Each write records its audit
 * row in the same transaction as the write (in StaffService).
 */
export const staffRouter = createTRPCRouter({
  /** The signed-in member of staff. */
  me: staffProcedure("viewer")
    .output(staffIdentityOutput)
    .query(({ ctx }) => ctx.staff),

  list: staffProcedure("admin")
    .output(staffMemberOutput.array())
    .query(({ ctx }) => staffService(ctx.db()).list()),

  /** Creates a member of staff; a generated password is returned once (`password`). */
  create: staffProcedure("admin")
    .input(createStaffInput)
    .output(createdStaffOutput)
    .mutation(async ({ ctx, input }) => {
      const { staff, password, generated } = await staffService(ctx.db()).create(input, ctx.actor);
      return { staff, password: generated ? password : null };
    }),

  setRole: staffProcedure("admin")
    .input(setRoleInput)
    .output(staffMemberOutput)
    .mutation(({ ctx, input }) => staffService(ctx.db()).setRole(input, { id: ctx.staff.id, label: ctx.actor })),
});
