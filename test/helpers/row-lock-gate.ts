import type pg from "pg";
import { expect } from "vitest";

export interface RowLockGate {
  /**
   * Resolves once `count` backends wait on the lock, directly or queued behind one another,
   * or as soon as `stopIf()` is true (e.g. the calls ended without ever waiting: the caller
   * then fails with its own message instead of a poll timeout).
   */
  waitForWaiters(count: number, stopIf?: () => boolean): Promise<void>;
  /** Ends the holding transaction (nothing changed): every waiter goes at once. Idempotent. */
  release(): Promise<void>;
}

/**
 * Holds the rows `lockSql` selects `FOR UPDATE` in an open transaction on a client of its own,
 * so concurrent writers of those rows pile up behind it. Released when all of them are
 * observed waiting (pg_stat_activity, not a sleep), a burst runs its worst case every time:
 * every call has read its snapshot before the first one commits. PostgreSQL queues the later
 * waiters on the first waiter's tuple lock, so the waiters are counted transitively.
 */
export async function holdRowLock(pool: pg.Pool, lockSql: string, params: unknown[]): Promise<RowLockGate> {
  const holder = await pool.connect();
  let open = true;
  const release = async () => {
    if (!open) return;
    open = false;
    try {
      await holder.query("ROLLBACK");
    } finally {
      holder.release();
    }
  };
  try {
    await holder.query("BEGIN");
    const locked = await holder.query(lockSql, params);
    if (locked.rowCount === 0) throw new Error(`holdRowLock: nothing to lock (${lockSql})`);
  } catch (error) {
    await release();
    throw error;
  }
  const pid = (await holder.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]?.pid;
  const waiters = async () =>
    (
      await pool.query<{ n: number }>(
        `WITH RECURSIVE blocked(pid) AS (
           SELECT pid FROM pg_stat_activity WHERE $1::int = ANY(pg_blocking_pids(pid))
           UNION
           SELECT a.pid FROM pg_stat_activity a JOIN blocked b ON b.pid = ANY(pg_blocking_pids(a.pid))
         ) SELECT count(*)::int AS n FROM blocked`,
        [pid],
      )
    ).rows[0]?.n ?? 0;
  return {
    release,
    async waitForWaiters(count, stopIf = () => false) {
      await expect
        .poll(async () => (stopIf() ? Infinity : await waiters()), { timeout: 60_000, interval: 25 })
        .toBeGreaterThanOrEqual(count);
    },
  };
}

/** How many backends wait directly on backend `pid` (a transaction a test holds open). */
export async function blockedBy(pool: pg.Pool, pid: number): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_stat_activity WHERE $1::int = ANY(pg_blocking_pids(pid))`,
    [pid],
  );
  return rows[0]?.n ?? 0;
}
