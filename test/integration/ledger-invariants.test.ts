import { randomUUID } from "node:crypto";

import { describe, expect, it } from "vitest";

import { ledgerInsertCtes } from "@/server/billing/ledger-insert-sql";
import { Prisma } from "@/server/db/client";

import { newOrg, testDatabase, uniqueSuffix } from "../helpers/db";

// Invariants the DATABASE enforces, whoever writes to it (ARCHITECTURE.md invariants 2, 3, 7 and
// the non-negative cache). Plain SQL on purpose: the services are not involved. Each test
// works on its own organization in the shared test database.

const { prisma, pool } = testDatabase();

async function ledgerRow(orgId: string, delta: bigint) {
  return prisma.usageLedger.create({ data: { orgId, metric: "storage_bytes", delta, reason: "file_upload", actor: "test" } });
}

/** A keyed row goes through the one writer fragment (its key claimed); undefined when the key was taken. */
async function keyedRow(orgId: string, delta: bigint, idempotencyKey: string) {
  const [row] = await prisma.$queryRaw<{ id: string }[]>`WITH ${ledgerInsertCtes(
    "ins",
    Prisma.sql`VALUES (gen_random_uuid(), ${orgId}::uuid, 'storage_bytes', ${delta}::bigint, 'file_upload', ${idempotencyKey}::text, 'test',
                      '{}'::jsonb, now())`,
  )} SELECT id::text FROM ins`;
  return row && prisma.usageLedger.findFirstOrThrow({ where: { id: row.id } });
}

/** The SQLSTATE and message node-postgres reports for `sql`, or undefined when it succeeds. */
async function pgFailure(sql: string, values: unknown[] = []): Promise<{ code?: string; message: string } | undefined> {
  try {
    await pool.query(sql, values);
    return undefined;
  } catch (error) {
    const e = error as { code?: string; message: string };
    return { code: e.code, message: e.message };
  }
}

describe("usage_ledger is append-only", () => {
  it("refuses UPDATE", async () => {
    const org = await newOrg(prisma);
    const row = await ledgerRow(org.id, 10n);

    await expect(prisma.$executeRaw`UPDATE usage_ledger SET delta = 11 WHERE id = ${row.id}::uuid`).rejects.toThrow(/append-only/);
    expect(await pgFailure(`UPDATE usage_ledger SET reason = 'edited' WHERE org_id = $1`, [org.id])).toMatchObject({
      code: "23001", // restrict_violation
      message: expect.stringMatching(/usage_ledger is append-only: UPDATE is not allowed/),
    });

    const after = await prisma.usageLedger.findFirstOrThrow({ where: { id: row.id } });
    expect(after).toEqual(row);
  });

  it("refuses DELETE", async () => {
    const org = await newOrg(prisma);
    const row = await ledgerRow(org.id, 10n);

    await expect(prisma.$executeRaw`DELETE FROM usage_ledger WHERE id = ${row.id}::uuid`).rejects.toThrow(/append-only/);
    expect(await pgFailure(`DELETE FROM usage_ledger WHERE org_id = $1`, [org.id])).toMatchObject({
      code: "23001",
      message: expect.stringMatching(/append-only: DELETE/),
    });
    expect(await prisma.usageLedger.count({ where: { orgId: org.id } })).toBe(1);
  });

  it("refuses TRUNCATE", async () => {
    const org = await newOrg(prisma);
    await ledgerRow(org.id, 10n);

    // Inside a transaction that is rolled back regardless: should the trigger ever go
    // missing, this test fails without wiping the ledger other tests are using.
    const client = await pool.connect();
    try {
      await client.query("BEGIN");
      const failure = await client.query("TRUNCATE usage_ledger").then(
        () => undefined,
        (error: { code?: string; message: string }) => error,
      );
      await client.query("ROLLBACK");
      expect(failure, "TRUNCATE usage_ledger was allowed").toMatchObject({
        code: "23001",
        message: expect.stringMatching(/append-only: TRUNCATE/),
      });
    } finally {
      client.release();
    }
    await expect(prisma.$executeRawUnsafe("TRUNCATE usage_ledger")).rejects.toThrow(/append-only/);
    expect(await prisma.usageLedger.count({ where: { orgId: org.id } })).toBe(1);
  });
});

describe("usage_ledger's partitions (one per UTC month, and DEFAULT)", () => {
  const partitions = async () =>
    (
      await pool.query<{ name: string }>(
        `SELECT c.oid::regclass::text AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'usage_ledger'::regclass`,
      )
    ).rows.map((r) => r.name);

  it("are created ahead by the migrator's maintenance step, idempotently", async () => {
    const { rows } = await pool.query<{ created: number }>(`SELECT usage_ledger_ensure_months(now(), 2) AS created`);
    expect(rows[0]?.created).toBe(0);
    const month = (offset: number) => {
      const d = new Date();
      const m = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + offset, 1));
      return `ledger_partitions.usage_ledger_${m.getUTCFullYear()}_${String(m.getUTCMonth() + 1).padStart(2, "0")}`;
    };
    expect(await partitions()).toEqual(expect.arrayContaining([month(0), month(1), month(2), "ledger_partitions.usage_ledger_default"]));
  });

  it("each refuses UPDATE, DELETE (its row trigger) and TRUNCATE", async () => {
    const names = await partitions();
    expect(names.length).toBeGreaterThanOrEqual(4);
    for (const name of names) {
      const { rows } = await pool.query<{ tgname: string }>(
        `SELECT tgname FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal ORDER BY tgname`,
        [name],
      );
      expect(
        rows.map((r) => r.tgname),
        name,
      ).toEqual(["usage_ledger_append_only", "usage_ledger_no_truncate"]);
      const client = await pool.connect();
      try {
        await client.query("BEGIN");
        const failure = await client.query(`TRUNCATE ${name}`).then(
          () => undefined,
          (error: { message: string }) => error,
        );
        expect(failure, `TRUNCATE ${name} was allowed`).toMatchObject({ message: expect.stringMatching(/append-only: TRUNCATE/) });
      } finally {
        await client.query("ROLLBACK");
        client.release();
      }
    }
    // A row in the current month's partition, addressed there directly.
    const org = await newOrg(prisma);
    const row = await ledgerRow(org.id, 3n);
    const [{ part } = { part: "" }] = (
      await pool.query<{ part: string }>(`SELECT tableoid::regclass::text AS part FROM usage_ledger WHERE id = $1`, [row.id])
    ).rows;
    expect(await pgFailure(`UPDATE ${part} SET delta = 4 WHERE id = $1`, [row.id])).toMatchObject({ code: "23001" });
    expect(await pgFailure(`DELETE FROM ${part} WHERE id = $1`, [row.id])).toMatchObject({ code: "23001" });
  });
});

describe("usage_cache", () => {
  it("refuses a negative count (CHECK constraint)", async () => {
    const org = await newOrg(prisma);
    await expect(prisma.usageCache.create({ data: { orgId: org.id, metric: "members", count: -1n } })).rejects.toThrow();
    expect(await pgFailure(`INSERT INTO usage_cache (org_id, metric, count) VALUES ($1, 'members', -1)`, [org.id])).toMatchObject({
      code: "23514",
      message: expect.stringMatching(/usage_cache_count_non_negative/),
    });

    await prisma.usageCache.create({ data: { orgId: org.id, metric: "members", count: 2n } });
    expect(await pgFailure(`UPDATE usage_cache SET count = count - 3 WHERE org_id = $1 AND metric = 'members'`, [org.id])).toMatchObject({
      code: "23514",
    });
    const cache = await prisma.usageCache.findUniqueOrThrow({ where: { orgId_metric: { orgId: org.id, metric: "members" } } });
    expect(cache.count).toBe(2n);
  });
});

describe("64-bit counts", () => {
  const aboveInt32 = 5n * 2n ** 31n + 7n; // 10 737 418 247
  const nearInt62 = 2n ** 62n + 12_345n;

  it.each([aboveInt32, nearInt62])("round-trips %s exactly through Prisma", async (value) => {
    const org = await newOrg(prisma);
    const entry = await ledgerRow(org.id, value);
    await prisma.usageCache.create({ data: { orgId: org.id, metric: "storage_bytes", count: value } });

    expect(entry.delta).toBe(value);
    const readEntry = await prisma.usageLedger.findFirstOrThrow({ where: { id: entry.id } });
    expect(readEntry.delta).toBe(value);
    expect(typeof readEntry.delta).toBe("bigint");
    const cache = await prisma.usageCache.findUniqueOrThrow({
      where: { orgId_metric: { orgId: org.id, metric: "storage_bytes" } },
    });
    expect(cache.count).toBe(value);
    // And as the database itself stores it (node-postgres returns int8 as a string).
    const { rows } = await pool.query<{ count: string }>(`SELECT count FROM usage_cache WHERE org_id = $1 AND metric = 'storage_bytes'`, [
      org.id,
    ]);
    expect(rows[0]?.count).toBe(value.toString());
  });

  it("sums big deltas exactly", async () => {
    const org = await newOrg(prisma);
    const deltas = [aboveInt32, aboveInt32, nearInt62, -aboveInt32, 2n ** 40n];
    for (const delta of deltas) await ledgerRow(org.id, delta);
    const expected = deltas.reduce((a, b) => a + b, 0n);

    const [viaBigint] = await prisma.$queryRaw<{ total: bigint }[]>`
      SELECT SUM(delta)::bigint AS total FROM usage_ledger WHERE org_id = ${org.id}::uuid`;
    expect(viaBigint?.total).toBe(expected);
    // SUM(bigint) is numeric in PostgreSQL: exact as text too, no float on the way.
    const [viaText] = await prisma.$queryRaw<{ total: string }[]>`
      SELECT SUM(delta)::text AS total FROM usage_ledger WHERE org_id = ${org.id}::uuid`;
    expect(viaText?.total).toBe(expected.toString());
    const aggregate = await prisma.usageLedger.aggregate({ where: { orgId: org.id }, _sum: { delta: true } });
    expect(aggregate._sum.delta).toBe(expected);
  });
});

describe("idempotency keys", () => {
  it("are unique per organization", async () => {
    const org = await newOrg(prisma);
    const key = `key-${uniqueSuffix()}`;
    await keyedRow(org.id, 1n, key);
    // The key's claim (usage_idempotency_keys' primary key) refuses a second row, whatever it is.
    await expect(keyedRow(org.id, 2n, key)).resolves.toBeUndefined();
    await expect(
      prisma.usageIdempotencyKey.create({
        data: {
          orgId: org.id,
          idempotencyKey: key,
          ledgerId: randomUUID(),
          ledgerTimestamp: new Date(),
          metric: "teams",
          delta: 1n,
          reason: "x",
        },
      }),
    ).rejects.toMatchObject({ code: "P2002" });
    expect(await prisma.usageLedger.count({ where: { orgId: org.id } })).toBe(1);
  });

  it("may repeat across organizations", async () => {
    const [a, b] = [await newOrg(prisma), await newOrg(prisma)];
    const key = `key-${uniqueSuffix()}`;
    await keyedRow(a.id, 1n, key);
    await expect(keyedRow(b.id, 1n, key)).resolves.toMatchObject({ orgId: b.id, idempotencyKey: key });
  });

  it("may be absent any number of times", async () => {
    const org = await newOrg(prisma);
    for (let i = 0; i < 3; i++) await ledgerRow(org.id, 1n);
    expect(await prisma.usageLedger.count({ where: { orgId: org.id, idempotencyKey: null } })).toBe(3);
  });
});
