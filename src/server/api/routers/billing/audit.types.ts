import { z } from "zod";

import { auditCursorSchema } from "@/server/billing/audit-log";
import { keysetPageSchema } from "@/server/billing/keyset-page";
import { pageLimitSchema } from "@/server/billing/schemas";

/** Zod schemas of `billing.audit.*`. */

export const listAuditInput = z.object({
  cursor: auditCursorSchema.optional(),
  limit: pageLimitSchema(50),
  actor: z.string().max(200).optional(),
  action: z.string().max(100).optional(),
  targetType: z.string().max(100).optional(),
  targetId: z.string().max(100).optional(),
});

export const auditEntryOutput = z.object({
  id: z.uuid(),
  actor: z.string(),
  action: z.string(),
  targetType: z.string(),
  targetId: z.string(),
  /** The target's state as JSON (BigInt as a decimal string, Date as ISO-8601); null when absent. */
  before: z.unknown(),
  after: z.unknown(),
  createdAt: z.date(),
});

/** `nextCursor`: pass back as `cursor` for the next (older) page; null on the last page. */
export const listAuditOutput = keysetPageSchema(auditEntryOutput, auditCursorSchema);
