import { createTRPCRouter, staffProcedure } from "@/server/api/trpc";
import { listLedgerArchives } from "@/server/billing/ledger-archive/archived-list";
import { ledgerTotals, listLedger } from "@/server/billing/ledger-history";

import { ledgerArchivesOutput, ledgerListInput, ledgerListOutput, ledgerTotalsInput, ledgerTotalsOutput } from "./ledger.types";

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

  /** The months `npm run archive-ledger` moved out of the ledger into files. */
  archives: staffProcedure("viewer")
    .output(ledgerArchivesOutput)
    .query(({ ctx }) => listLedgerArchives(ctx.db())),
});
