import { createTRPCRouter, staffProcedure } from "@/server/api/trpc";
import { listAudit } from "@/server/billing/audit-log";

import { listAuditInput, listAuditOutput } from "./audit.types";

/** `billing.audit.*`: the audit log of staff writes (admin). */
export const auditRouter = createTRPCRouter({
  /** Newest first, keyset-paginated (`nextCursor`). */
  list: staffProcedure("admin")
    .input(listAuditInput)
    .output(listAuditOutput)
    .query(({ ctx, input }) => listAudit(ctx.db(), input)),
});
