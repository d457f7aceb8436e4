import superjson from "superjson";

/**
 * The one data transformer of the billing API, shared by the server (`initTRPC`), the React
 * client (`httpBatchLink`), the RSC caller and the query client's (de)hydration. superjson
 * carries `bigint` (64-bit counts), `Date` and `Map`/`Set` over the wire intact.
 */
export const transformer = superjson;
