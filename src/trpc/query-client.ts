import { defaultShouldDehydrateQuery, QueryClient } from "@tanstack/react-query";

import { transformer } from "./transformer";

/**
 * A QueryClient configured for server rendering: data prefetched in an RSC is dehydrated
 * with the shared transformer (so bigint and Date survive) and rehydrated in the browser.
 */
export function createQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        // Data rendered on the server is fresh for a moment; don't refetch on hydration.
        staleTime: 30_000,
      },
      dehydrate: {
        serializeData: transformer.serialize,
        shouldDehydrateQuery: (query) => defaultShouldDehydrateQuery(query) || query.state.status === "pending",
      },
      hydrate: {
        deserializeData: transformer.deserialize,
      },
    },
  });
}
