import "server-only"; // the RSC caller: request headers and the database: a client component importing this fails the build

import { createHydrationHelpers } from "@trpc/react-query/rsc";
import { headers } from "next/headers";
import { cache } from "react";

import { createCaller, type AppRouter } from "@/server/api/root";
import { createTRPCContext } from "@/server/api/trpc";
import { getStaffSession } from "@/server/auth";

import { createQueryClient } from "./query-client";

/**
 * The tRPC API for React Server Components: `await api.billing.orgs.list({ … })` runs the
 * procedure in-process (same context, middleware and validation as over HTTP), and
 * `HydrateClient` hands prefetched queries to client components.
 *
 * Server-only: it reads request headers. (The `server-only` package is not installed; this
 * module imports `next/headers`, which already fails loudly in a client bundle.)
 */
/**
 * The signed-in member of staff for this request, looked up once however many times the
 * layout, the page and its procedures ask.
 */
export const currentStaff = cache(async () => getStaffSession(new Headers(await headers())));

const createContext = cache(async () => {
  const requestHeaders = new Headers(await headers());
  requestHeaders.set("x-trpc-source", "rsc");
  return createTRPCContext({ headers: requestHeaders, staff: currentStaff });
});

const getQueryClient = cache(createQueryClient);
const caller = createCaller(createContext);

export const { trpc: api, HydrateClient } = createHydrationHelpers<AppRouter>(caller, getQueryClient);
