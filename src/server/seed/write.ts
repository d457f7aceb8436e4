import type pg from "pg";

import { copyBlocks, timestamp } from "./copy";
import type { SeedOrg } from "./generate";

/** Row counts of a batch, per table. */
export interface BatchCounts {
  organizations: number;
  subscriptions: number;
  members: number;
  teams: number;
  files: number;
  storageBytes: bigint;
  ledgerRows: number;
  cacheRows: number;
}

export function emptyBatchCounts(): BatchCounts {
  return { organizations: 0, subscriptions: 0, members: 0, teams: 0, files: 0, storageBytes: 0n, ledgerRows: 0, cacheRows: 0 };
}

/** Adds `more` into `into`, field by field. */
export function addBatchCounts(into: BatchCounts, more: BatchCounts): void {
  into.organizations += more.organizations;
  into.subscriptions += more.subscriptions;
  into.members += more.members;
  into.teams += more.teams;
  into.files += more.files;
  into.storageBytes += more.storageBytes;
  into.ledgerRows += more.ledgerRows;
  into.cacheRows += more.cacheRows;
}

/**
 * One batch of orgs as COPY text, one block per org and table. Each org is formatted as
 * soon as it is generated, so its many small objects die young and only a few strings per
 * org stay alive until the batch is written (holding the objects of a whole batch made the
 * garbage collector the seed's biggest cost).
 */
export class Batch {
  /**
   * `withLegacyUsage`: the database still has `organizations.usage` (before the cleanup
   * migration drops it), so each org's legacy JSONB is written too.
   */
  constructor(readonly withLegacyUsage: boolean) {}

  readonly orgIds: string[] = [];
  readonly organizations: string[] = [];
  readonly subscriptions: string[] = [];
  readonly members: string[] = [];
  readonly teams: string[] = [];
  readonly files: string[] = [];
  readonly ledger: string[] = [];
  readonly counts: BatchCounts = emptyBatchCounts();

  add(org: SeedOrg): void {
    const id = org.id;
    this.orgIds.push(id);
    this.counts.organizations++;
    const legacy = this.withLegacyUsage ? `\t${JSON.stringify(org.legacyUsage)}` : "";
    this.organizations.push(`${id}\t${org.name}\t${org.slug}\t${timestamp(org.createdAt)}${legacy}\n`);

    const s = org.subscription;
    if (s) {
      this.counts.subscriptions++;
      this.subscriptions.push(
        `${s.id}\t${id}\t${s.productId}\t${s.status}\t${timestamp(s.periodStart)}\t${timestamp(s.periodEnd)}\t` +
          `${timestamp(s.createdAt)}\t${timestamp(s.updatedAt)}\n`,
      );
    }

    this.members.push(block(org.members, (m) => `${m.id}\t${id}\t${m.email}\t${m.name}\t${m.role}\t${timestamp(m.createdAt)}\n`));
    this.counts.members += org.members.length;

    this.teams.push(block(org.teams, (t) => `${t.id}\t${id}\t${t.name}\t${timestamp(t.createdAt)}\n`));
    this.counts.teams += org.teams.length;

    this.files.push(block(org.files, (f) => `${f.id}\t${id}\t${f.name}\t${f.contentType}\t${f.sizeBytes}\t${timestamp(f.createdAt)}\n`));
    this.counts.files += org.files.length;
    this.counts.storageBytes += org.totals.storageBytes;

    this.ledger.push(block(org.ledger, (e) => `${e.id}\t${id}\t${e.metric}\t${e.delta}\tseed\t${timestamp(e.timestamp)}\tseed\t{}\n`));
  }
}

/**
 * The rows of one org and table as one flat string. Array#join copies the pieces into a
 * single sequential string; building it with += would keep a tree of small rope nodes alive
 * until the COPY, which costs far more in garbage collection than the join.
 */
function block<T>(rows: readonly T[], format: (row: T) => string): string {
  const lines = new Array<string>(rows.length);
  for (let i = 0; i < rows.length; i++) lines[i] = format(rows[i] as T);
  return lines.join("");
}

/**
 * Writes a batch in ONE transaction: the host tables (with the legacy JSONB while its
 * column exists) by COPY, then, unless `legacyOnly`,
 * the orgs' `seed` ledger rows by COPY and the usage cache derived from exactly those
 * ledger rows by one set-based INSERT … SELECT … GROUP BY. So for every seeded org
 * `usage_cache.count == SUM(usage_ledger.delta)` holds by construction, and a failure
 * leaves no org without its ledger, nor a ledger without its org.
 */
export async function writeBatch(client: pg.PoolClient, batch: Batch, legacyOnly: boolean): Promise<BatchCounts> {
  const counts = { ...batch.counts };
  await client.query("BEGIN");
  try {
    const orgColumns = ["id", "name", "slug", "created_at", ...(batch.withLegacyUsage ? ["usage"] : [])];
    await copyBlocks(client, "organizations", orgColumns, batch.organizations);
    await copyBlocks(
      client,
      "subscriptions",
      ["id", "org_id", "product_id", "status", "current_period_start", "current_period_end", "created_at", "updated_at"],
      batch.subscriptions,
    );
    await copyBlocks(client, "members", ["id", "org_id", "email", "name", "role", "created_at"], batch.members);
    await copyBlocks(client, "teams", ["id", "org_id", "name", "created_at"], batch.teams);
    await copyBlocks(client, "stored_files", ["id", "org_id", "name", "content_type", "size_bytes", "created_at"], batch.files);
    if (!legacyOnly) {
      const ledger = batch.ledger.join("");
      await copyBlocks(client, "usage_ledger", ["id", "org_id", "metric", "delta", "reason", "timestamp", "actor", "metadata"], [ledger]);
      counts.ledgerRows = countLines(ledger);
      const cache = await client.query(
        `INSERT INTO usage_cache (org_id, metric, count, last_updated)
         SELECT org_id, metric, SUM(delta), MAX("timestamp")
         FROM usage_ledger
         WHERE org_id = ANY($1::uuid[])
         GROUP BY org_id, metric`,
        [batch.orgIds],
      );
      counts.cacheRows = cache.rowCount ?? 0;
    }
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  }
  return counts;
}

function countLines(text: string): number {
  let lines = 0;
  for (let at = text.indexOf("\n"); at !== -1; at = text.indexOf("\n", at + 1)) lines++;
  return lines;
}
