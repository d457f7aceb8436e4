import pg from "pg";

/**
 * Counts the SQL statements this process sends (every `pg` client: the baseline pool and
 * the Prisma adapter's pool alike, which share the one `pg` module). Divided by the ops of
 * a measurement, it is the number of database round trips per op — the evidence for "a
 * needless round trip". BEGIN and COMMIT count: they are round trips too.
 */
let queries = 0;
let installed = false;

export function countQueries(): void {
  if (installed) return;
  installed = true;
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = proto.query;
  proto.query = function (this: unknown, ...args: unknown[]) {
    queries++;
    return original.apply(this, args);
  };
}

export function queryCount(): number {
  return queries;
}

/** Process CPU time (user + system, all threads), in milliseconds. */
export function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}
