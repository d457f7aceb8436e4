import "server-only"; // the database client and its credentials: a client component importing this fails the build

import { createHash } from "node:crypto";

import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";

import { PrismaClient } from "@/generated/prisma/client";
import { env } from "@/server/env";

export { Prisma } from "@/generated/prisma/client";
export { PrismaClient };

export interface DatabaseHandle {
  prisma: PrismaClient;
  pool: pg.Pool;
  close(): Promise<void>;
}

export interface ConnectOptions {
  /** Pool size; defaults to DATABASE_POOL_SIZE or 10. */
  max?: number;
  /** Label in the server's pg_stat_activity. */
  applicationName?: string;
  /** Session settings sent at connect (libpq `options`), e.g. "-c jit=off". */
  serverOptions?: string;
}

/**
 * The one place that creates a Prisma client. The pool is ours (not the adapter's), so
 * scripts can also run plain SQL on it (COPY, advisory locks) and close both at once.
 */
export function createDatabase(databaseUrl: string, options: ConnectOptions = {}): DatabaseHandle {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: options.max ?? (Number(process.env.DATABASE_POOL_SIZE) || 10),
    application_name: options.applicationName ?? "ledger-policy-billing",
    ...(options.serverOptions ? { options: options.serverOptions } : {}),
  });
  // An idle client losing its connection (server restart, network) must not crash the
  // process; the pool drops it and the next query reconnects.
  pool.on("error", (error) => {
    console.error(`[db] idle connection error: ${error.message}`);
  });
  const prisma = new PrismaClient({
    adapter: new PrismaPg(pool, { statementNameGenerator: statementName }),
    // Prisma's defaults (2 s to get a connection, 5 s per interactive transaction) turn a busy
    // moment — a full pool, a loaded host — into a failed write. Waiting longer is right for
    // billing writes: each is short, and a slow answer beats a refused one.
    transactionOptions: { maxWait: 10_000, timeout: 30_000 },
  });
  return {
    prisma,
    pool,
    async close() {
      await prisma.$disconnect();
      await pool.end();
    },
  };
}

// Prepared statements: PostgreSQL plans a named statement once per connection instead of on
// every call, which halves the cost of the hot reads (the policy context, consume). Only
// statements with a bounded number of parameters get a name: one whose text grows with an
// IN-list would fill each connection's statement cache with one-off plans.
const MAX_NAMED_PARAMS = 32;
/** The named statements met so far, by text length (see `namedStatement`). */
const statementsByLength = new Map<number, NamedStatement[]>();
let namedStatements = 0;

export interface NamedStatement {
  name: string;
  /** The text, as first met: the same string object on every later call. */
  text: string;
}

/**
 * The name (and the canonical text) of a statement, or undefined for one with too many
 * parameters to be named. Found by length, then by equality: a statement's text is built
 * afresh on every call (Prisma.Sql's `text` is a getter that concatenates its pieces), and
 * using such a string as a Map key hashes all of it each time — ~15 µs for consume's 6 KB
 * statement — where comparing it to the one text of its length costs ~1 µs. Handing the
 * canonical text on to `pg` lets its own check (same name, same text?) compare one string
 * object with itself.
 */
export function namedStatement(text: string, parameters: number): NamedStatement | undefined {
  if (parameters > MAX_NAMED_PARAMS) return undefined; // unnamed: planned each time
  const sameLength = statementsByLength.get(text.length);
  const known = sameLength?.find((statement) => statement.text === text);
  if (known) return known;
  const statement = { name: `p_${createHash("sha1").update(text).digest("hex").slice(0, 24)}`, text };
  // Bounded: a process that somehow builds endless distinct texts names the rest afresh each time.
  if (namedStatements < 10_000) {
    namedStatements++;
    if (sameLength) sameLength.push(statement);
    else statementsByLength.set(text.length, [statement]);
  }
  return statement;
}

/** `namedStatement` as Prisma's pg adapter asks for it (its `statementNameGenerator`). */
export function statementName(query: { sql: string; args: unknown[] }): string {
  return namedStatement(query.sql, query.args.length)?.name as string;
}

// On globalThis, not in module scope: Next.js may load this module once per route bundle,
// and each copy would open its own pool.
const SHARED_DATABASE = Symbol.for("ledger-policy-billing.database");
type WithDatabase = typeof globalThis & { [SHARED_DATABASE]?: DatabaseHandle };

/**
 * The process-wide database, created on first use so that importing this module (or
 * `next build`) never connects. Requires DATABASE_URL: `npm start` and the scripts set it
 * to the embedded server when the user did not.
 */
export function db(): DatabaseHandle {
  const scope = globalThis as WithDatabase;
  if (!scope[SHARED_DATABASE]) {
    const url = env().DATABASE_URL;
    if (!url) {
      throw new Error("DATABASE_URL is not set: start the app with `npm start`, which provides the embedded database");
    }
    scope[SHARED_DATABASE] = createDatabase(url);
  }
  return scope[SHARED_DATABASE];
}

export function prisma(): PrismaClient {
  return db().prisma;
}
