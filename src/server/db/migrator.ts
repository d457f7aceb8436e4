import { createHash, randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

import pg from "pg";

import { LEDGER_MONTHS_AHEAD } from "./ledger-months";

/**
 * Applies the hand-written migrations in prisma/migrations, recording them in
 * `_prisma_migrations` exactly as `prisma migrate deploy` does (same table, columns and
 * SHA-256 checksum of migration.sql), so both tools agree about what is applied.
 *
 * Each migration runs in its own transaction, so a failure leaves nothing half-applied and
 * nothing recorded. Runners exclude each other with the same session advisory lock Prisma
 * takes, so of several concurrent runners exactly one applies each migration.
 */

export const MIGRATIONS_DIR = fileURLToPath(new URL("../../../prisma/migrations", import.meta.url));

// The key `prisma migrate` itself locks on, so our migrator and Prisma's exclude each other.
const PRISMA_MIGRATE_ADVISORY_LOCK = 72707369;

export class MigrationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MigrationError";
  }
}

export interface MigrationFile {
  name: string;
  sql: string;
  checksum: string;
}

export interface MigrateResult {
  applied: string[];
  alreadyApplied: string[];
  pending: string[];
  /** With `stopAtRefusal`: the guarded migration that refused to run yet, and why. */
  refused?: { name: string; reason: string };
  /** Ledger partitions (UTC months) the maintenance step created, when it created any. */
  partitionsCreated?: number;
}

/**
 * The SQLSTATE a guarded migration raises when its precondition does not hold yet (e.g. the
 * cleanup before the backfill was verified): `RAISE EXCEPTION '…' USING ERRCODE = 'BG001'`.
 */
export const MIGRATION_NOT_YET_SQLSTATE = "BG001";

/** A guarded migration refused to run yet; nothing of it was applied. */
export class MigrationRefused extends MigrationError {
  constructor(
    readonly migration: string,
    readonly reason: string,
  ) {
    super(`Migration ${migration} failed and was rolled back: ${reason}`);
    this.name = "MigrationRefused";
  }
}

export function checksumOf(sql: string): string {
  return createHash("sha256").update(sql, "utf8").digest("hex");
}

export async function readMigrations(dir = MIGRATIONS_DIR): Promise<MigrationFile[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const names = entries
    .filter((e) => e.isDirectory() && existsSync(path.join(dir, e.name, "migration.sql")))
    .map((e) => e.name)
    .sort();
  return Promise.all(
    names.map(async (name) => {
      const sql = await readFile(path.join(dir, name, "migration.sql"), "utf8");
      return { name, sql, checksum: checksumOf(sql) };
    }),
  );
}

const CREATE_MIGRATIONS_TABLE = `
CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;

interface AppliedRow {
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
}

export interface MigrateOptions {
  /** Stop after this migration (inclusive). */
  to?: string;
  /**
   * When a guarded migration refuses to run yet (MIGRATION_NOT_YET_SQLSTATE), stop there and
   * report it in `refused` instead of throwing: `npm start` serves the dashboard (the
   * Backfill page included) while the cleanup waits for a passing verify.
   */
  stopAtRefusal?: boolean;
  dir?: string;
  log?: (line: string) => void;
}

/**
 * The maintenance step every migrate runs (`npm start`, `npm run migrate`, the seed, the
 * tests): the ledger's partitions of this UTC month and the next LEDGER_MONTHS_AHEAD,
 * created where missing (rows of such a month already in the DEFAULT partition are moved
 * into it). Idempotent; skipped before the partitioning migration is applied.
 */
async function ensureLedgerMonths(client: pg.Client): Promise<number> {
  const { rows } = await client.query<{ present: boolean }>(
    `SELECT to_regprocedure('usage_ledger_ensure_months(timestamptz,integer,date)') IS NOT NULL AS present`,
  );
  if (!rows[0]?.present) return 0;
  const created = await client.query<{ created: number }>(`SELECT usage_ledger_ensure_months(now(), $1) AS created`, [LEDGER_MONTHS_AHEAD]);
  return created.rows[0]?.created ?? 0;
}

export async function migrate(databaseUrl: string, options: MigrateOptions = {}): Promise<MigrateResult> {
  const log = options.log ?? (() => {});
  const files = await readMigrations(options.dir);
  if (options.to !== undefined && !files.some((f) => f.name === options.to)) {
    throw new MigrationError(`--to: no migration named "${options.to}" in ${options.dir ?? "prisma/migrations"}`);
  }

  const client = new pg.Client({ connectionString: databaseUrl, application_name: "billing-migrator" });
  await client.connect();
  try {
    // Quiet the NOTICEs "relation already exists, skipping" that concurrent runners cause.
    await client.query("SET client_min_messages = warning");
    await client.query("SELECT pg_advisory_lock($1)", [PRISMA_MIGRATE_ADVISORY_LOCK]);
    try {
      await client.query(CREATE_MIGRATIONS_TABLE);
      const applied = await appliedMigrations(client);
      checkHistory(files, applied);

      const result: MigrateResult = { applied: [], alreadyApplied: [], pending: [] };
      let reachedTarget = false;
      for (const file of files) {
        if (applied.has(file.name)) {
          result.alreadyApplied.push(file.name);
        } else if (reachedTarget) {
          result.pending.push(file.name);
        } else {
          try {
            await applyOne(client, file);
          } catch (error) {
            if (!(options.stopAtRefusal && error instanceof MigrationRefused)) throw error;
            // Everything before it is applied; it and the rest wait for its precondition.
            result.refused = { name: file.name, reason: error.reason };
            result.pending.push(file.name);
            reachedTarget = true;
            continue;
          }
          log(`applied ${file.name}`);
          result.applied.push(file.name);
        }
        if (file.name === options.to) reachedTarget = true;
      }
      const created = await ensureLedgerMonths(client);
      if (created > 0) {
        result.partitionsCreated = created;
        log(`created ${created} ledger month partition(s)`);
      }
      return result;
    } finally {
      await client.query("SELECT pg_advisory_unlock($1)", [PRISMA_MIGRATE_ADVISORY_LOCK]);
    }
  } finally {
    await client.end();
  }
}

async function appliedMigrations(client: pg.Client): Promise<Map<string, AppliedRow>> {
  const { rows } = await client.query<AppliedRow>(
    `SELECT migration_name, checksum, finished_at FROM "_prisma_migrations"
     WHERE rolled_back_at IS NULL ORDER BY started_at`,
  );
  return new Map(rows.map((r) => [r.migration_name, r]));
}

function checkHistory(files: MigrationFile[], applied: Map<string, AppliedRow>): void {
  const byName = new Map(files.map((f) => [f.name, f]));
  for (const row of applied.values()) {
    if (row.finished_at === null) {
      throw new MigrationError(`Migration ${row.migration_name} started but did not finish; resolve it before migrating again.`);
    }
    const file = byName.get(row.migration_name);
    if (!file) {
      throw new MigrationError(`Migration ${row.migration_name} is applied in the database but missing from prisma/migrations.`);
    }
    if (file.checksum !== row.checksum) {
      throw new MigrationError(
        `Migration ${row.migration_name} was edited after it was applied (checksum ${row.checksum.slice(0, 12)}… ` +
          `in the database, ${file.checksum.slice(0, 12)}… on disk). Restore the file and add a new migration instead.`,
      );
    }
  }
}

async function applyOne(client: pg.Client, file: MigrationFile): Promise<void> {
  await client.query("BEGIN");
  try {
    const id = randomUUID();
    await client.query(
      `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, applied_steps_count)
       VALUES ($1, $2, $3, now(), 0)`,
      [id, file.checksum, file.name],
    );
    await client.query(file.sql);
    await client.query(`UPDATE "_prisma_migrations" SET finished_at = clock_timestamp(), applied_steps_count = 1 WHERE id = $1`, [id]);
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK");
    const message = error instanceof Error ? error.message : String(error);
    if ((error as { code?: unknown }).code === MIGRATION_NOT_YET_SQLSTATE) throw new MigrationRefused(file.name, message);
    throw new MigrationError(`Migration ${file.name} failed and was rolled back: ${message}`);
  }
}
