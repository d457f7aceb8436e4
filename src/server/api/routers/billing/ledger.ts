import { createTRPCRouter, staffProcedure } from "@/server/api/trpc";
import { ledgerTotals, listLedger } from "@/server/billing/ledger-history";

import { ledgerListInput, ledgerListOutput, ledgerTotalsInput, ledgerTotalsOutput } from "./ledger.types";

/**
 * `billing.ledger.*`: every ledger row across organizations, for staff and finance. The CSV
 * export of a whole range is a route handler (`/api/ledger/export`, finance role), because it
 * streams.
 */
export const ledgerRouter = createTRPCRouter({
  list: staffProcedure("viewer")
    .input(ledgerListInput)
    .output(ledgerListOutput)
    .query(({ ctx, input }) => listLedger(ctx.db(), input.filter, { cursor: input.cursor, limit: input.limit })),

  totals: staffProcedure("viewer")
    .input(ledgerTotalsInput)
    .output(ledgerTotalsOutput)
    .query(({ ctx, input }) => ledgerTotals(ctx.db(), input.filter)),
});
