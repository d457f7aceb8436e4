import { z } from "zod";

import { keysetPageSchema } from "@/server/billing/keyset-page";
import { ledgerCursorSchema, ledgerFilterSchema } from "@/server/billing/ledger-history";
import { pageLimitSchema } from "@/server/billing/schemas";

import { ledgerEntrySchema } from "./usage.types";

/** Zod schemas of `billing.ledger.*`: finance's history across organizations. */

export const ledgerListInput = z.object({
  filter: ledgerFilterSchema.default({}),
  cursor: ledgerCursorSchema.optional(),
  limit: pageLimitSchema(50),
});

/**
 * Stored rows: their metric is any text (a row written for a metric this deploy's catalogue
 * does not know must show, not fail the page); the filter above stays strict.
 */
export const ledgerListOutput = keysetPageSchema(ledgerEntrySchema.extend({ metric: z.string(), orgName: z.string() }), ledgerCursorSchema);

export const ledgerTotalsInput = z.object({ filter: ledgerFilterSchema.default({}) });

/** One row per (metric, reason): deltas of different metrics are never added together. */
export const ledgerTotalsOutput = z.array(z.object({ metric: z.string(), reason: z.string(), entries: z.bigint(), total: z.bigint() }));

/** Archived months, newest first (ledger-archive/archived-list.ts). */
export const ledgerArchivesOutput = z.array(
  z.object({ month: z.string(), rows: z.bigint(), file: z.string(), fileSha256: z.string(), archivedAt: z.date() }),
);
