import { z } from "zod";

/** Zod schemas of `billing.audit.*`. */

export const listAuditInput = z.object({
  cursor: z.string().max(200).optional(),
  limit: z.number().int().min(1).max(200).default(50),
  actor: z.string().max(200).optional(),
  action: z.string().max(100).optional(),
  targetType: z.string().max(100).optional(),
  targetId: z.string().max(100).optional(),
});
