import { fetchRequestHandler } from "@trpc/server/adapters/fetch";

import { appRouter } from "@/server/api/root";
import { createTRPCContext, logUnexpectedError } from "@/server/api/trpc";

// The dashboard's calls (staff cookies), and API-key calls when the node:http path in front of
// Next is off (BILLING_API_VIA_NEXT=1, `next dev`, a plain `next start`): the same appRouter
// and context as that path (src/server/api/product-api-http.ts).
// The API talks to PostgreSQL through `pg`: Node runtime, never prerendered at build time.
export const runtime = "nodejs";
export const dynamic = "force-dynamic";

function handler(req: Request) {
  return fetchRequestHandler({
    endpoint: "/api/trpc",
    req,
    router: appRouter,
    createContext: () => createTRPCContext({ headers: req.headers }),
    onError: logUnexpectedError,
  });
}

export { handler as GET, handler as POST };
