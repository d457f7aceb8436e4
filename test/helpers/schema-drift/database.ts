import pg from "pg";

import { canonicalType, IGNORED_TABLES, normaliseDefault, type ReferentialAction, type SchemaShape } from "./shape";

/**
 * The database → SchemaShape, from pg_catalog (information_schema hides index column order
 * and modes), for the current schema.
 */

export type Queryable = pg.ClientBase | pg.Pool;

const ACTION_CODES: Record<string, ReferentialAction> = {
  a: "NO ACTION",
  r: "RESTRICT",
  c: "CASCADE",
  n: "SET NULL",
  d: "SET DEFAULT",
};

const TABLES_SQL = `
SELECT c.relname AS table
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition`;

const COLUMNS_SQL = `
SELECT c.relname AS table, a.attname AS column, format_type(a.atttypid, a.atttypmod) AS type,
       a.attnotnull AS not_null, pg_get_expr(d.adbin, d.adrelid) AS default,
       a.attidentity AS identity, a.attgenerated AS generated
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY c.relname, a.attnum`;

// Key columns only (not INCLUDE ones), in index order, with their DESC flag (indoption bit 0).
const INDEXES_SQL = `
SELECT t.relname AS table, ix.indisprimary AS primary, ix.indisunique AS unique, am.amname AS method,
       (ix.indpred IS NOT NULL OR ix.indexprs IS NOT NULL) AS inexpressible,
       ARRAY(
         SELECT a.attname::text || CASE WHEN (ix.indoption[k.ord - 1] & 1) = 1 THEN ' DESC' ELSE '' END
         FROM unnest(ix.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
         JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
         WHERE k.ord <= ix.indnkeyatts
         ORDER BY k.ord
       ) AS columns
FROM pg_index ix
JOIN pg_class i ON i.oid = ix.indexrelid
JOIN pg_class t ON t.oid = ix.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
JOIN pg_am am ON am.oid = i.relam
WHERE n.nspname = current_schema()`;

const FOREIGN_KEYS_SQL = `
SELECT t.relname AS table, rt.relname AS referenced_table,
       con.confdeltype AS on_delete, con.confupdtype AS on_update,
       ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum ORDER BY k.ord) AS columns,
       ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum ORDER BY k.ord) AS referenced_columns
FROM pg_constraint con
JOIN pg_class t ON t.oid = con.conrelid
JOIN pg_class rt ON rt.oid = con.confrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE con.contype = 'f' AND n.nspname = current_schema()`;

const ENUMS_SQL = `
SELECT t.typname AS name, array_agg(e.enumlabel::text ORDER BY e.enumsortorder) AS labels
FROM pg_type t
JOIN pg_enum e ON e.enumtypid = t.oid
JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE n.nspname = current_schema()
GROUP BY t.typname`;

interface ColumnRow {
  table: string;
  column: string;
  type: string;
  not_null: boolean;
  default: string | null;
  identity: string;
  generated: string;
}
interface IndexRow {
  table: string;
  primary: boolean;
  unique: boolean;
  method: string;
  inexpressible: boolean;
  columns: string[];
}
interface ForeignKeyRow {
  table: string;
  referenced_table: string;
  on_delete: string;
  on_update: string;
  columns: string[];
  referenced_columns: string[];
}

export async function actualSchemaFromDatabase(database: string | Queryable): Promise<SchemaShape> {
  if (typeof database === "string") {
    const client = new pg.Client({ connectionString: database, application_name: "schema-drift" });
    await client.connect();
    try {
      return await readSchema(client);
    } finally {
      await client.end();
    }
  }
  return readSchema(database);
}

async function readSchema(db: Queryable): Promise<SchemaShape> {
  // Both pg.Client and pg.Pool have this call shape; the union of their overloads does not type-check.
  const query = <R extends pg.QueryResultRow>(sql: string) => (db as pg.Pool).query<R>(sql).then((r) => r.rows);
  // One after the other: a single pg.Client must not run queries concurrently.
  const tables = await query<{ table: string }>(TABLES_SQL);
  const columns = await query<ColumnRow>(COLUMNS_SQL);
  const indexes = await query<IndexRow>(INDEXES_SQL);
  const foreignKeys = await query<ForeignKeyRow>(FOREIGN_KEYS_SQL);
  const enums = await query<{ name: string; labels: string[] }>(ENUMS_SQL);

  const shape: SchemaShape = { tables: new Map(), enums: new Map(enums.map((e) => [e.name, e.labels])) };
  for (const { table } of tables) {
    if (IGNORED_TABLES.has(table)) continue;
    shape.tables.set(table, { columns: new Map(), primaryKey: null, indexes: [], foreignKeys: [] });
  }
  for (const row of columns) {
    const table = shape.tables.get(row.table);
    if (!table) continue;
    const type = canonicalType(row.type);
    let value = row.default === null ? null : normaliseDefault(row.default, type);
    // Identity columns behave like Prisma's autoincrement (a sequence-backed default).
    if (row.identity === "a" || row.identity === "d") value = "autoincrement()";
    if (row.generated === "s") value = `GENERATED ALWAYS AS (${value ?? ""})`;
    table.columns.set(row.column, { type, nullable: !row.not_null, default: value, defaultChecked: true });
  }
  for (const row of indexes) {
    const table = shape.tables.get(row.table);
    // Partial and expression indexes cannot be written in schema.prisma: not compared.
    if (!table || row.inexpressible) continue;
    if (row.primary) table.primaryKey = row.columns;
    else table.indexes.push({ columns: row.columns, unique: row.unique, method: row.method });
  }
  for (const row of foreignKeys) {
    const table = shape.tables.get(row.table);
    if (!table) continue;
    table.foreignKeys.push({
      columns: row.columns,
      referencedTable: row.referenced_table,
      referencedColumns: row.referenced_columns,
      onDelete: ACTION_CODES[row.on_delete] ?? "NO ACTION",
      onUpdate: ACTION_CODES[row.on_update] ?? "NO ACTION",
    });
  }
  return shape;
}
