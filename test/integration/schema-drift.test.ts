import { readFileSync } from "node:fs";

import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

import { migrate } from "@/server/db/migrator";

import { createScratchDatabase, withClient, type ScratchDatabase } from "../helpers/databases";
import {
  actualSchemaFromDatabase,
  canonicalType,
  diffSchemas,
  expectedSchemaFromPrisma,
  normaliseDefault,
  schemaDrift,
  type SchemaShape,
} from "../helpers/schema-drift";

// The guard that replaces `prisma migrate diff` here: the database the hand-written
// migrations build must match prisma/schema.prisma. The later tests prove the guard can
// fail, so a green first test means something.

const SCHEMA_PATH = "prisma/schema.prisma";
const schemaText = () => readFileSync(SCHEMA_PATH, "utf8");

const explain = (lines: string[]) =>
  `${SCHEMA_PATH} and prisma/migrations disagree ("missing" = only in schema.prisma, "extra" = only in the database):\n  ` +
  lines.join("\n  ");

/** Replaces `pattern` inside `model <name> { … }` only; fails loudly when it no longer matches. */
function editModel(schema: string, model: string, pattern: RegExp, replacement: string): string {
  const block = new RegExp(`model ${model} \\{[\\s\\S]*?\\n\\}`).exec(schema)?.[0];
  if (!block || !pattern.test(block)) throw new Error(`test fixture out of date: ${pattern} not found in model ${model}`);
  return schema.replace(block, block.replace(pattern, replacement));
}

describe("schema drift: migrated database vs schema.prisma", () => {
  let actual: SchemaShape;

  beforeAll(async () => {
    actual = await actualSchemaFromDatabase(inject("databaseUrl"));
  });

  it("finds no difference after migrating to the latest migration", async () => {
    const lines = diffSchemas(await expectedSchemaFromPrisma(schemaText()), actual);
    expect(lines, explain(lines)).toEqual([]);
  });

  it("ignores _prisma_migrations and what Prisma cannot express (CHECK, triggers)", () => {
    expect(actual.tables.has("_prisma_migrations")).toBe(false);
    // The tables with a CHECK constraint and append-only triggers are still compared.
    expect(actual.tables.get("usage_cache")?.primaryKey).toEqual(["org_id", "metric"]);
    expect(actual.tables.get("usage_ledger")?.columns.get("delta")?.type).toBe("bigint");
  });

  // (a) schema.prisma edited, database unchanged.
  const mutations: { name: string; edit: (schema: string) => string; expected: string[] }[] = [
    {
      name: "a column type",
      edit: (s) => editModel(s, "UsageLedger", /(\n\s+delta\s+)BigInt/, "$1Int"),
      expected: ["usage_ledger.delta: type integer in schema.prisma, bigint in database"],
    },
    {
      name: "a dropped index",
      edit: (s) => editModel(s, "UsageLedger", /\n\s+@@index\(\[orgId, timestamp\]\)/, ""),
      expected: ["extra index usage_ledger(org_id, timestamp)"],
    },
    {
      name: "an added index",
      edit: (s) => editModel(s, "UsageLedger", /(\n\s+@@map)/, "\n  @@index([orgId, metric])$1"),
      expected: ["missing index usage_ledger(org_id, metric)"],
    },
    {
      name: "a field made optional",
      edit: (s) => editModel(s, "UsageLedger", /(\n\s+reason\s+)String\b/, "$1String?"),
      expected: ["usage_ledger.reason: nullable in schema.prisma, NOT NULL in database"],
    },
    {
      name: "a changed default",
      edit: (s) => editModel(s, "Member", /@default\("member"\)/, '@default("admin")'),
      expected: ["members.role: default 'admin' in schema.prisma, default 'member' in database"],
    },
    {
      name: "a changed onDelete",
      edit: (s) => editModel(s, "UsageLedger", /onDelete: Restrict/, "onDelete: Cascade"),
      expected: ["foreign key usage_ledger(org_id) -> organizations(id): ON DELETE CASCADE in schema.prisma, RESTRICT in database"],
    },
    {
      name: "a dropped unique",
      edit: (s) => editModel(s, "Member", /\n\s+@@unique\(\[orgId, email\]\)/, ""),
      expected: ["extra unique index members(org_id, email)"],
    },
    {
      name: "a changed precision",
      edit: (s) => editModel(s, "UsageLedger", /(\n\s+timestamp\s+DateTime.*)@db\.Timestamptz\(3\)/, "$1@db.Timestamptz(6)"),
      expected: ["usage_ledger.timestamp: type timestamptz(6) in schema.prisma, timestamptz(3) in database"],
    },
    {
      name: "an added model",
      edit: (s) => `${s}\nmodel DriftCanary {\n  id Int @id\n\n  @@map("drift_canary")\n}\n`,
      expected: ["missing table drift_canary"],
    },
  ];

  it.each(mutations)("reports $name changed in schema.prisma", async ({ edit, expected }) => {
    const baseline = diffSchemas(await expectedSchemaFromPrisma(schemaText()), actual);
    const lines = diffSchemas(await expectedSchemaFromPrisma(edit(schemaText())), actual);
    expect(lines.filter((line) => !baseline.includes(line))).toEqual(expected);
  });

  // (b) database altered behind the migrations' back, schema.prisma unchanged.
  describe("on a database altered after migrating", () => {
    let scratch: ScratchDatabase;

    beforeAll(async () => {
      scratch = await createScratchDatabase(inject("adminUrl"), "billing_drift");
      await migrate(scratch.url);
    });
    afterAll(async () => {
      await scratch?.drop();
    });

    it("reports each alteration, and nothing for what Prisma cannot express", async () => {
      const baseline = await schemaDrift(schemaText(), scratch.url);
      await withClient(scratch.url, (client) =>
        client.query(`
          ALTER TABLE "usage_ledger" ALTER COLUMN "delta" TYPE integer;
          DROP INDEX "usage_ledger_org_id_timestamp_idx";
          ALTER TABLE "members" ALTER COLUMN "role" DROP DEFAULT;
          ALTER TABLE "teams" ALTER COLUMN "name" DROP NOT NULL;
          ALTER TABLE "usage_cache" DROP CONSTRAINT "usage_cache_org_id_fkey";
          ALTER TABLE "usage_cache" ADD CONSTRAINT "usage_cache_org_id_fkey" FOREIGN KEY ("org_id")
            REFERENCES "organizations"("id") ON DELETE CASCADE ON UPDATE CASCADE;
          ALTER TABLE "subscriptions" ADD COLUMN "note" text;
          CREATE TABLE "stray" ("id" integer PRIMARY KEY);
          -- Not expressible in schema.prisma, so not drift:
          ALTER TABLE "teams" ADD CONSTRAINT "teams_name_not_blank" CHECK ("name" <> '');
          CREATE INDEX "teams_recent_idx" ON "teams" ("created_at") WHERE "name" IS NOT NULL;
        `),
      );
      const lines = await schemaDrift(schemaText(), scratch.url);
      expect(lines.filter((line) => !baseline.includes(line)).sort()).toEqual(
        [
          "usage_ledger.delta: type bigint in schema.prisma, integer in database",
          "missing index usage_ledger(org_id, timestamp)",
          "members.role: default 'member' in schema.prisma, no default in database",
          "teams.name: NOT NULL in schema.prisma, nullable in database",
          "foreign key usage_cache(org_id) -> organizations(id): ON DELETE RESTRICT in schema.prisma, CASCADE in database",
          "extra column subscriptions.note",
          "extra table stray",
        ].sort(),
      );
    });
  });

  // Constructs the billing schema does not use yet (enums, lists, serial ids, implicit
  // many-to-many, hash/GIN and DESC indexes), against the SQL `prisma migrate` writes for them.
  describe("on Prisma constructs beyond the current schema", () => {
    let scratch: ScratchDatabase;

    const schema = `
      datasource db {
        provider = "postgresql"
      }
      enum Role {
        owner
        member @map("plain-member")
        @@map("role_kind")
      }
      model Widget {
        id         Int      @id @default(autoincrement())
        code       String   @unique @db.VarChar(32)
        label      String?  @db.Char(4)
        price      Decimal  @default(0)
        ratio      Float    @default(-1.5)
        amount     Decimal  @db.Decimal(10, 2)
        tags       String[] @default([])
        role       Role     @default(member)
        active     Boolean  @default(true)
        seenAt     DateTime @default(now()) @map("seen_at")
        updatedAt  DateTime @updatedAt @map("updated_at")
        externalId String   @default(uuid()) @map("external_id") @db.Uuid
        payload    Json?    @db.Json
        big        BigInt   @default(42)
        ownerId    Int?     @map("owner_id")
        owner      Gadget?  @relation("Ownership", fields: [ownerId], references: [id])
        gadgets    Gadget[] @relation("WidgetGadgets")
        @@index([seenAt(sort: Desc), code])
        @@index([tags(ops: ArrayOps)], type: Gin)
        @@index([code], type: Hash)
        @@map("widgets")
      }
      model Gadget {
        id      Int      @id @default(autoincrement())
        owned   Widget[] @relation("Ownership")
        widgets Widget[] @relation("WidgetGadgets")
        @@map("gadgets")
      }
    `;

    const sql = `
      CREATE TYPE "role_kind" AS ENUM ('owner', 'plain-member');
      CREATE TABLE "widgets" (
        "id" SERIAL NOT NULL,
        "code" VARCHAR(32) NOT NULL,
        "label" CHAR(4),
        "price" DECIMAL(65,30) NOT NULL DEFAULT 0,
        "ratio" DOUBLE PRECISION NOT NULL DEFAULT -1.5,
        "amount" DECIMAL(10,2) NOT NULL,
        "tags" TEXT[] DEFAULT ARRAY[]::TEXT[],
        "role" "role_kind" NOT NULL DEFAULT 'plain-member',
        "active" BOOLEAN NOT NULL DEFAULT true,
        "seen_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
        "updated_at" TIMESTAMP(3) NOT NULL,
        "external_id" UUID NOT NULL,
        "payload" JSON,
        "big" BIGINT NOT NULL DEFAULT 42,
        "owner_id" INTEGER,
        CONSTRAINT "widgets_pkey" PRIMARY KEY ("id")
      );
      CREATE TABLE "gadgets" ("id" SERIAL NOT NULL, CONSTRAINT "gadgets_pkey" PRIMARY KEY ("id"));
      CREATE TABLE "_WidgetGadgets" (
        "A" INTEGER NOT NULL,
        "B" INTEGER NOT NULL,
        CONSTRAINT "_WidgetGadgets_AB_pkey" PRIMARY KEY ("A","B")
      );
      CREATE UNIQUE INDEX "widgets_code_key" ON "widgets"("code");
      CREATE INDEX "widgets_seen_at_code_idx" ON "widgets"("seen_at" DESC, "code");
      CREATE INDEX "widgets_tags_idx" ON "widgets" USING GIN ("tags" array_ops);
      CREATE INDEX "widgets_code_idx" ON "widgets" USING HASH ("code");
      CREATE INDEX "_WidgetGadgets_B_index" ON "_WidgetGadgets"("B");
      ALTER TABLE "widgets" ADD CONSTRAINT "widgets_owner_id_fkey" FOREIGN KEY ("owner_id")
        REFERENCES "gadgets"("id") ON DELETE SET NULL ON UPDATE CASCADE;
      ALTER TABLE "_WidgetGadgets" ADD CONSTRAINT "_WidgetGadgets_A_fkey" FOREIGN KEY ("A")
        REFERENCES "gadgets"("id") ON DELETE CASCADE ON UPDATE CASCADE;
      ALTER TABLE "_WidgetGadgets" ADD CONSTRAINT "_WidgetGadgets_B_fkey" FOREIGN KEY ("B")
        REFERENCES "widgets"("id") ON DELETE CASCADE ON UPDATE CASCADE;
    `;

    beforeAll(async () => {
      scratch = await createScratchDatabase(inject("adminUrl"), "billing_drift");
      await withClient(scratch.url, (client) => client.query(sql));
    });
    afterAll(async () => {
      await scratch?.drop();
    });

    it("finds no difference where the SQL matches", async () => {
      const lines = await schemaDrift(schema, scratch.url);
      expect(lines, explain(lines)).toEqual([]);
    });

    it("reports enum labels, index order and index method", async () => {
      const edited = schema
        .replace('member @map("plain-member")', 'member @map("member")')
        .replace("@@index([seenAt(sort: Desc), code])", "@@index([code, seenAt(sort: Desc)])")
        .replace("@@index([code], type: Hash)", "@@index([code])");
      expect((await schemaDrift(edited, scratch.url)).sort()).toEqual(
        [
          "enum role_kind: values (owner, member) in schema.prisma, (owner, plain-member) in database",
          "widgets.role: default 'member' in schema.prisma, default 'plain-member' in database",
          "missing index widgets(code, seen_at DESC)",
          "extra index widgets(seen_at DESC, code)",
          "missing index widgets(code)",
          "extra index widgets(code) using hash",
        ].sort(),
      );
    });
  });
});

describe("schema drift normalisation", () => {
  it("spells PostgreSQL types the short way on both sides", () => {
    expect(canonicalType("timestamp(3) with time zone")).toBe("timestamptz(3)");
    expect(canonicalType("timestamp(3) without time zone")).toBe("timestamp(3)");
    expect(canonicalType("character varying(255)")).toBe("varchar(255)");
    expect(canonicalType("character(1)")).toBe("char(1)");
    expect(canonicalType("text[]")).toBe("text[]");
    expect(canonicalType('"SubscriptionStatus"')).toBe("SubscriptionStatus");
  });

  it("treats CURRENT_TIMESTAMP as now() and ignores casts", () => {
    expect(normaliseDefault("CURRENT_TIMESTAMP", "timestamptz(3)")).toBe("now()");
    expect(normaliseDefault("'{}'::jsonb", "jsonb")).toBe("'{}'");
    expect(normaliseDefault("'member'::text", "text")).toBe("'member'");
    expect(normaliseDefault("'-1'::integer", "integer")).toBe("-1");
    expect(normaliseDefault("nextval('widgets_id_seq'::regclass)", "integer")).toBe("autoincrement()");
  });
});
