import type pg from "pg";

import type { Random } from "../prng";
import { DOCUMENT_TYPES, FILE_STEMS, FIRST_NAMES, LAST_NAMES, MEDIA_TYPES, TEAM_NAMES } from "../vocabulary";
import type { DemoOrg } from "./orgs";

/**
 * The host application's side of a gauge: the row it inserts or deletes once the consume
 * that counts it was allowed (a member joining is a `member.add` AND a `members` row), so
 * the host tables keep agreeing with the ledger and a backfill finds nothing to correct.
 * One writer per gauge metric the history knows; a gauge without one (added to the
 * catalogue later) simply gets no history.
 */

export interface HostAdd {
  /** What the consume asks for: 1 for a row, bytes for a file. */
  amount: bigint;
  insert(pool: pg.Pool): Promise<void>;
}

export interface HostRemoval {
  amount: bigint;
  delete(pool: pg.Pool): Promise<void>;
}

export interface HostWriter {
  /** Expected adds and removes over a 90-day history, from the org's size. */
  rates(org: DemoOrg): { adds: number; removes: number };
  /** Draws the row one add would insert (`seq` numbers the org's adds, for unique names). */
  drawAdd(random: Random, org: DemoOrg, seq: number, at: Date): HostAdd;
  /** One removable row (picked by `pick` in [0, 1)), or null when none may go. */
  pickRemoval(pool: pg.Pool, orgId: string, pick: number): Promise<HostRemoval | null>;
}

/**
 * The row at position ⌊pick × n⌋ (by id) of the org's n removable rows of `table`, with
 * `amount` (a column, or 1), or null when there is none.
 */
async function pickRow(pool: pg.Pool, table: string, where: string, amount: string, orgId: string, pick: number) {
  const { rows } = await pool.query<{ id: string; amount: string }>(
    `SELECT id::text, (${amount})::text AS amount FROM ${table} WHERE org_id = $1 ${where} ORDER BY id
     OFFSET (SELECT floor($2::float8 * count(*))::int FROM ${table} WHERE org_id = $1 ${where}) LIMIT 1`,
    [orgId, pick],
  );
  const row = rows[0];
  return row
    ? {
        amount: BigInt(row.amount),
        delete: async (p: pg.Pool) => {
          await p.query(`DELETE FROM ${table} WHERE id = $1`, [row.id]);
        },
      }
    : null;
}

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

const members: HostWriter = {
  rates(org) {
    const adds = Math.min(40, 1.5 + Number(org.counts.get("members") ?? 0n) * 0.05);
    return { adds, removes: adds * 0.6 };
  },
  drawAdd(random, org, seq, at) {
    const first = random.pick(FIRST_NAMES);
    const last = random.pick(LAST_NAMES);
    const id = random.uuid();
    // `.h<seq>` never appears in the seed's addresses (first.last<k>@), so e-mails stay unique.
    const email = `${first.toLowerCase()}.${last.toLowerCase()}.h${seq}@${org.slug}.example.com`;
    return {
      amount: 1n,
      insert: async (pool) => {
        await pool.query("INSERT INTO members (id, org_id, email, name, role, created_at) VALUES ($1, $2, $3, $4, 'member', $5)", [
          id,
          org.id,
          email,
          `${first} ${last}`,
          at,
        ]);
      },
    };
  },
  // The owner never leaves; anyone else may.
  pickRemoval: (pool, orgId, pick) => pickRow(pool, "members", "AND role <> 'owner'", "1", orgId, pick),
};

const teams: HostWriter = {
  rates(org) {
    const adds = Math.min(6, 0.4 + Number(org.counts.get("teams") ?? 0n) * 0.04);
    return { adds, removes: adds * 0.3 };
  },
  drawAdd(random, org, _seq, at) {
    const id = random.uuid();
    const name = random.pick(TEAM_NAMES);
    return {
      amount: 1n,
      insert: async (pool) => {
        await pool.query("INSERT INTO teams (id, org_id, name, created_at) VALUES ($1, $2, $3, $4)", [id, org.id, name, at]);
      },
    };
  },
  pickRemoval: (pool, orgId, pick) => pickRow(pool, "teams", "", "1", orgId, pick),
};

const files: HostWriter = {
  rates(org) {
    const adds = Math.min(12, 1 + org.files * 0.1);
    return { adds, removes: adds * 0.4 };
  },
  drawAdd(random, org, seq, at) {
    // Mostly documents, some media, now and then a multi-GiB archive (a free org's 1 GiB goes fast).
    const u = random.next();
    const [extension, contentType] = u < 0.9 ? random.pick(DOCUMENT_TYPES) : random.pick(MEDIA_TYPES);
    const size =
      u < 0.9 ? random.logUniform(2 * KiB, 20 * MiB) : u < 0.99 ? random.logUniform(20 * MiB, 512 * MiB) : random.int(GiB, 3 * GiB);
    const id = random.uuid();
    const name = `${random.pick(FILE_STEMS)}-h${seq}.${extension}`;
    return {
      amount: BigInt(size),
      insert: async (pool) => {
        await pool.query(
          "INSERT INTO stored_files (id, org_id, name, content_type, size_bytes, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
          [id, org.id, name, contentType, size, at],
        );
      },
    };
  },
  pickRemoval: (pool, orgId, pick) => pickRow(pool, "stored_files", "", "size_bytes", orgId, pick),
};

/** The host writer of each gauge metric the history knows, by metric name. */
export const HOST_WRITERS: Readonly<Record<string, HostWriter>> = { members, teams, storage_bytes: files };
