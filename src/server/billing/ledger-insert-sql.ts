import { Prisma } from "@/server/db/client";

/**
 * THE way a ledger row is written (README invariant 3): "claim the key, insert the row", as
 * data-modifying CTEs of the writer's one statement. `usage_ledger` is partitioned by month,
 * so its unique keys must contain the timestamp and cannot say "one row per (org, key),
 * forever"; `usage_idempotency_keys` (unpartitioned, kept when a month is archived) does. The
 * key row is inserted first, `ON CONFLICT DO NOTHING`, and the ledger row only where its key
 * was new (or it has none): two writers racing on a key serialize on the key's index entry
 * as they did on the ledger's, and exactly one writes.
 *
 * `rows` is a SELECT of the rows to write, its columns in LEDGER_INSERT_COLUMNS' order (an
 * id too: `gen_random_uuid()` where the caller has none; the CTE is materialized, so the key
 * and the row get the same id). The last CTE is `name`: the inserted rows (`RETURNING *`),
 * as the writer's old `INSERT … ON CONFLICT … RETURNING *` CTE was. A row whose key was
 * already claimed is dropped, never an error, so a caller's transaction is not aborted.
 *
 * Everything that inserts a keyed ledger row goes through here (scripts and tests too: a
 * direct INSERT would leave its key unclaimed; a database trigger doing the claim would cost
 * every hot-path write a second key probe).
 */

/** The columns `rows` must yield, in this order. */
export const LEDGER_INSERT_COLUMNS = `id, org_id, metric, delta, reason, idempotency_key, actor, metadata, "timestamp"`;

export interface LedgerInsertOptions {
  /**
   * Every row has a NULL key (consume-several's rows counted with the action's own): no
   * claim, one plain INSERT, so the statement does not pay for an empty one. A row that
   * does carry a key is not written (never a keyed row without its claim).
   */
  keyless?: boolean;
}

function parts(name: string, options: LedgerInsertOptions): { head: string; tail: string } {
  if (options.keyless) {
    return {
      head: `${name} AS (
    INSERT INTO usage_ledger (${LEDGER_INSERT_COLUMNS})
    SELECT * FROM (`,
      tail: `) AS r(${LEDGER_INSERT_COLUMNS}) WHERE r.idempotency_key IS NULL
    RETURNING *
  )`,
    };
  }
  const rows = `${name}_rows`;
  const keys = `${name}_keys`;
  return {
    head: `${rows} AS MATERIALIZED (
    SELECT * FROM (`,
    tail: `) AS r(${LEDGER_INSERT_COLUMNS})
  ), ${keys} AS (
    INSERT INTO usage_idempotency_keys (org_id, idempotency_key, ledger_id, ledger_timestamp, metric, delta, reason)
    SELECT org_id, idempotency_key, id, "timestamp", metric, delta, reason FROM ${rows} WHERE idempotency_key IS NOT NULL
    ON CONFLICT (org_id, idempotency_key) DO NOTHING
    RETURNING ledger_id
  ), ${name} AS (
    INSERT INTO usage_ledger (${LEDGER_INSERT_COLUMNS})
    SELECT ${LEDGER_INSERT_COLUMNS} FROM ${rows} r
    WHERE r.idempotency_key IS NULL OR EXISTS (SELECT 1 FROM ${keys} k WHERE k.ledger_id = r.id)
    RETURNING *
  )`,
  };
}

/** The CTEs (no leading `WITH` or comma) for Prisma.sql statements. */
export function ledgerInsertCtes(name: string, rows: Prisma.Sql, options: LedgerInsertOptions = {}): Prisma.Sql {
  const { head, tail } = parts(name, options);
  return Prisma.sql`${Prisma.raw(head)}${rows}${Prisma.raw(tail)}`;
}

/** The same CTEs as text, for statements sent with node-postgres' `$n` parameters. */
export function ledgerInsertCtesText(name: string, rows: string, options: LedgerInsertOptions = {}): string {
  const { head, tail } = parts(name, options);
  return `${head}${rows}${tail}`;
}
