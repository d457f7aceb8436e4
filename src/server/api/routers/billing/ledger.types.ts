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

export const ledgerListOutput = keysetPageSchema(ledgerEntrySchema.extend({ orgName: z.string() }), ledgerCursorSchema);

export const ledgerTotalsInput = z.object({ filter: ledgerFilterSchema.default({}) });

export const ledgerTotalsOutput = z.array(z.object({ reason: z.string(), entries: z.bigint(), total: z.bigint() }));
