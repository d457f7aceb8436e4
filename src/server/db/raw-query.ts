import type pg from "pg";

import { namedStatement, type Prisma, type PrismaClient } from "./client";
import type { Db } from "./tx";

/**
 * Runs one SQL statement built with `Prisma.sql` and returns its rows. Two ways, one shape:
 * through Prisma (`viaPrisma`: a caller's transaction, or the client), or straight on the
 * `pg` pool (`viaPool`) — the hot path's shortcut past Prisma's query pipeline, which costs
 * ~0.6 ms of CPU per statement on this machine. Both prepare the statement under the same
 * name. Rows come as the driver gives them: `bigint` columns may be a string (pg) or a
 * bigint (Prisma), so callers read them with `BigInt(…)`.
 */
export type RawQuery = <T>(sql: Prisma.Sql) => Promise<T[]>;

export function viaPrisma(db: Db): RawQuery {
  return <T>(sql: Prisma.Sql) => db.$queryRaw<T[]>(sql);
}

export function viaPool(pool: pg.Pool | pg.PoolClient): RawQuery {
  return async <T>(sql: Prisma.Sql) => {
    const text = sql.text; // a getter that builds the text: read it once
    const named = namedStatement(text, sql.values.length);
    const result = await pool.query(named ? { name: named.name, text: named.text, values: sql.values } : { text, values: sql.values });
    return result.rows as T[];
  };
}

/** Runs `work` in one transaction, its statements on the `RawQuery` it is given; commits when it returns. */
export type RawTransaction = <T>(work: (run: RawQuery) => Promise<T>) => Promise<T>;

export function transactionViaPrisma(client: PrismaClient): RawTransaction {
  return (work) => client.$transaction((tx) => work(viaPrisma(tx)));
}

/** A transaction on one connection of the pool, past Prisma like `viaPool`. */
export function transactionViaPool(pool: pg.Pool): RawTransaction {
  return async (work) => {
    const connection = await pool.connect();
    let broken: Error | undefined;
    try {
      await connection.query("BEGIN");
      const result = await work(viaPool(connection));
      await connection.query("COMMIT");
      return result;
    } catch (error) {
      // A connection that cannot even roll back is not given back to the pool.
      await connection.query("ROLLBACK").catch((rollbackError: Error) => (broken = rollbackError));
      throw error;
    } finally {
      connection.release(broken);
    }
  };
}
