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

/**
 * ONE row that carries a key (increment's, when the caller sent one): the claim is inserted
 * first and the ledger row is built from what the claim returns, so no materialized CTE is
 * needed to give both the same id (`rows` above): about 4 points of increment's throughput
 * (`npm run bench -- --only partitions`). `source` is a FROM clause yielding at most one row
 * (the statement's locked cache row); the values are expressions of the statement.
 */
export interface ClaimedRow<S> {
  source: S;
  orgId: S;
  metric: S;
  delta: S;
  reason: S;
  idempotencyKey: S;
  actor: S;
  metadata: S;
  timestamp: S;
}

/** A template's pieces: its text between the values, and the values. */
interface Pieces<S> {
  strings: readonly string[];
  values: S[];
}
const pieces = <S>(strings: TemplateStringsArray, ...values: S[]): Pieces<S> => ({ strings, values });

/**
 * The claimed row's CTEs as one template whose every value is a piece of SQL of the caller's
 * kind (Prisma.Sql, or text with `$n` parameters); names are values too, through `raw`.
 */
function claimedPieces<S>(name: string, row: ClaimedRow<S>, raw: (text: string) => S): Pieces<S> {
  const keys = raw(`${name}_keys`);
  return pieces<S>`${keys} AS (
    INSERT INTO usage_idempotency_keys (org_id, idempotency_key, ledger_id, ledger_timestamp, metric, delta, reason)
    SELECT ${row.orgId}, ${row.idempotencyKey}, gen_random_uuid(), ${row.timestamp}, ${row.metric}, ${row.delta}, ${row.reason}
    FROM ${row.source}
    ON CONFLICT (org_id, idempotency_key) DO NOTHING
    RETURNING *
  ), ${raw(name)} AS (
    INSERT INTO usage_ledger (${raw(LEDGER_INSERT_COLUMNS)})
    SELECT k.ledger_id, k.org_id, k.metric, k.delta, k.reason, k.idempotency_key, ${row.actor}, ${row.metadata}, k.ledger_timestamp
    FROM ${keys} k
    RETURNING *
  )`;
}

/** One row of a single-row write (increment, consume of one metric), its values as sent. */
export interface OneLedgerRow {
  /** A FROM clause yielding at most one row: the row is written once for it. */
  source: Prisma.Sql;
  orgId: string;
  metric: string;
  delta: bigint;
  reason: string;
  idempotencyKey: string | null;
  actor: string;
  /** The metadata as JSON text. */
  metadata: string;
  timestamp: Date;
}

/**
 * The CTEs (no leading `WITH` or comma) writing one row: claimed first when it carries a key
 * (ClaimedRow), a plain INSERT when it has none. The last CTE is `name`, as ledgerInsertCtes'.
 */
export function oneLedgerRowCtes(name: string, row: OneLedgerRow): Prisma.Sql {
  const values = {
    orgId: Prisma.sql`${row.orgId}::uuid`,
    metric: Prisma.sql`${row.metric}::text`,
    delta: Prisma.sql`${row.delta}::bigint`,
    reason: Prisma.sql`${row.reason}::text`,
    actor: Prisma.sql`${row.actor}::text`,
    metadata: Prisma.sql`${row.metadata}::jsonb`,
    timestamp: Prisma.sql`${row.timestamp}::timestamptz`,
  };
  if (row.idempotencyKey === null) {
    const { orgId, metric, delta, reason, actor, metadata, timestamp } = values;
    return ledgerInsertCtes(
      name,
      Prisma.sql`SELECT gen_random_uuid(), ${orgId}, ${metric}, ${delta}, ${reason}, NULL::text, ${actor}, ${metadata}, ${timestamp}
      FROM ${row.source}`,
      { keyless: true },
    );
  }
  const { strings, values: sql } = claimedPieces(
    name,
    { ...values, source: row.source, idempotencyKey: Prisma.sql`${row.idempotencyKey}::text` },
    Prisma.raw,
  );
  return Prisma.sql(strings, ...sql);
}

/** The same as text, each value a piece of SQL (`$n` parameters). */
export function claimedRowCtesText(name: string, row: ClaimedRow<string>): string {
  const { strings, values } = claimedPieces(name, row, (text) => text);
  return strings.reduce((text, part, i) => text + part + (values[i] ?? ""), "");
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
