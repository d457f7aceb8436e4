import type { inferRouterInputs, inferRouterOutputs } from "@trpc/server";

import { billingRouter } from "@/server/api/routers/billing";
import { createCallerFactory, createTRPCRouter } from "@/server/api/trpc";

/** The whole API, served at `/api/trpc` (superjson). */
export const appRouter = createTRPCRouter({
  billing: billingRouter,
});

export type AppRouter = typeof appRouter;
export type RouterInputs = inferRouterInputs<AppRouter>;
export type RouterOutputs = inferRouterOutputs<AppRouter>;

/**
 * A server-side caller, for RSC pages, scripts and tests:
 * `const api = createCaller(await createTRPCContext({ headers }))`.
 */
export const createCaller = createCallerFactory(appRouter);
