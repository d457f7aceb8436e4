"use client";

import { QueryClientProvider, type QueryClient } from "@tanstack/react-query";
import { httpBatchLink, loggerLink } from "@trpc/client";
import { createTRPCReact } from "@trpc/react-query";
import { useState, type ReactNode } from "react";

import type { AppRouter } from "@/server/api/root";

import { createQueryClient } from "./query-client";
import { transformer } from "./transformer";

export type { RouterInputs, RouterOutputs } from "@/server/api/root";

/** tRPC React hooks for client components: `api.billing.orgs.list.useQuery(…)`. */
export const api = createTRPCReact<AppRouter>();

let browserQueryClient: QueryClient | undefined;

/** One QueryClient per browser session; a fresh one per server render (no shared cache). */
function getQueryClient(): QueryClient {
  if (typeof window === "undefined") return createQueryClient();
  browserQueryClient ??= createQueryClient();
  return browserQueryClient;
}

export function TRPCReactProvider({ children }: { children: ReactNode }) {
  const queryClient = getQueryClient();
  const [trpcClient] = useState(() =>
    api.createClient({
      links: [
        loggerLink({
          enabled: (op) => process.env.NODE_ENV === "development" || (op.direction === "down" && op.result instanceof Error),
        }),
        httpBatchLink({
          url: "/api/trpc",
          transformer,
          headers: () => ({ "x-trpc-source": "dashboard" }),
        }),
      ],
    }),
  );

  return (
    <QueryClientProvider client={queryClient}>
      <api.Provider client={trpcClient} queryClient={queryClient}>
        {children}
      </api.Provider>
    </QueryClientProvider>
  );
}
