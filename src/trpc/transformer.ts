import superjson from "superjson";

/**
 * The one data transformer of the billing API, shared by the server (`initTRPC`), the React
 * client (`httpBatchLink`), the RSC caller and the query client's (de)hydration. superjson
 * carries `bigint` (64-bit counts), `Date` and `Map`/`Set` over the wire intact.
 * The server reads requests through `src/server/api/input-edge.ts`: this same format, with
 * the meta shape, storable text and nesting depth checked before superjson does any work.
 */
export const transformer = superjson;
