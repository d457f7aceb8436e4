import type * as PrismaInternals from "@prisma/internals";
import pg from "pg";

/**
 * Drift guard: does the database the hand-written migrations produce match what
 * `prisma/schema.prisma` describes? Prisma's own `migrate diff` needs the schema engine,
 * which cannot be downloaded here, so this compares the two directly.
 *
 * Both sides are reduced to one shape (`SchemaShape`): tables, columns (type incl.
 * precision, nullability, default), primary key, unique and plain indexes (columns in
 * order), foreign keys (columns, target, ON DELETE / ON UPDATE) and enums. Constraint and
 * index NAMES are not compared, only what they cover. Objects Prisma cannot express are
 * ignored on purpose: CHECK constraints, triggers, functions, partial and expression
 * indexes, and the `_prisma_migrations` bookkeeping table.
 *
 * Wording of the diff lines: "missing" = in schema.prisma but not in the database,
 * "extra" = in the database but not in schema.prisma.
 */

export type ReferentialAction = "CASCADE" | "RESTRICT" | "NO ACTION" | "SET NULL" | "SET DEFAULT";

export interface ColumnShape {
  /** Canonical PostgreSQL type: `text`, `timestamptz(3)`, `numeric(65,30)`, `varchar(255)`, `text[]`, an enum name. */
  type: string;
  nullable: boolean;
  /** Normalised default expression (`now()`, `'member'`, `0`, `gen_random_uuid()`), null when none. */
  default: string | null;
  /** False when schema.prisma says "some database default" without saying which (`dbgenerated()`). */
  defaultChecked: boolean;
}

export interface IndexShape {
  /** Column names in index order; a descending column is `name DESC`. */
  columns: string[];
  unique: boolean;
  /** Access method: btree, hash, gin, gist, brin, spgist. */
  method: string;
}

export interface ForeignKeyShape {
  columns: string[];
  referencedTable: string;
  referencedColumns: string[];
  onDelete: ReferentialAction;
  onUpdate: ReferentialAction;
}

export interface TableShape {
  columns: Map<string, ColumnShape>;
  primaryKey: string[] | null;
  indexes: IndexShape[];
  foreignKeys: ForeignKeyShape[];
}

export interface SchemaShape {
  tables: Map<string, TableShape>;
  /** Enum type name → labels in declaration order. */
  enums: Map<string, string[]>;
}

const IGNORED_TABLES = new Set(["_prisma_migrations"]);

// ---------------------------------------------------------------------------------------
// Normalisation shared by both sides
// ---------------------------------------------------------------------------------------

// `::type` casts PostgreSQL adds when it prints a default ('member'::text, '{}'::jsonb).
const CAST =
  /::(?:[a-z_][a-z0-9_]*\.)?(?:"[^"]+"|character varying|bit varying|double precision|(?:timestamp|time)(?:\(\d+\))? with(?:out)? time zone|[a-z_][a-z0-9_]*)(?:\(\d+(?:,\s*\d+)?\))?(?:\[\])*/gi;

const NUMERIC_TYPES = /^(smallint|integer|bigint|real|double precision|numeric|money|oid)(\(|$)/;

function canonicalNumber(text: string): string {
  return /^-?\d+$/.test(text) ? BigInt(text).toString() : String(Number(text));
}

/** Canonical form of a default expression, so `CURRENT_TIMESTAMP` equals `now()` and casts don't matter. */
export function normaliseDefault(expression: string, type: string): string {
  let s = expression.replace(CAST, "").replace(/\s+/g, " ").trim();
  if (/^nextval\(/i.test(s)) return "autoincrement()";
  s = s.replace(/\bCURRENT_TIMESTAMP(\(\d+\))?/gi, "now()");
  if (/^(true|false)$/i.test(s)) return s.toLowerCase();
  const baseType = type.replace(/\[\]$/, "");
  if (NUMERIC_TYPES.test(baseType)) {
    // PostgreSQL prints negative and some numeric defaults as '-1' or (-1).
    const number = /^\(?'?(-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)'?\)?$/i.exec(s);
    if (number?.[1]) return canonicalNumber(number[1]);
  }
  return s;
}

/** `format_type()` output → the short canonical spelling used on both sides. */
export function canonicalType(formatted: string): string {
  let s = formatted.replace(/"/g, "").trim();
  let array = "";
  while (s.endsWith("[]")) {
    array += "[]";
    s = s.slice(0, -2);
  }
  s = s
    .replace(/^timestamp(\(\d+\))? with time zone$/, "timestamptz$1")
    .replace(/^timestamp(\(\d+\))? without time zone$/, "timestamp$1")
    .replace(/^time(\(\d+\))? with time zone$/, "timetz$1")
    .replace(/^time(\(\d+\))? without time zone$/, "time$1")
    .replace(/^character varying/, "varchar")
    .replace(/^character\b/, "char")
    .replace(/^bit varying/, "varbit")
    .replace(/^numeric\((\d+),\s*(\d+)\)$/, "numeric($1,$2)");
  return s + array;
}

// ---------------------------------------------------------------------------------------
// schema.prisma → SchemaShape (via the DMMF, the same parse Prisma itself uses)
// ---------------------------------------------------------------------------------------

type Internals = typeof PrismaInternals;
type Document = Awaited<ReturnType<Internals["getDMMF"]>>;
type Model = Document["datamodel"]["models"][number];
type Field = Model["fields"][number];
type DmmfEnum = Document["datamodel"]["enums"][number];

// What `prisma migrate` creates for a scalar without @db.* (Prisma's PostgreSQL defaults).
const SCALAR_TYPES: Record<string, string> = {
  String: "text",
  Boolean: "boolean",
  Int: "integer",
  BigInt: "bigint",
  Float: "double precision",
  Decimal: "numeric(65,30)",
  DateTime: "timestamp(3)",
  Json: "jsonb",
  Bytes: "bytea",
};

const withPrecision = (name: string) => (args: readonly string[]) => (args[0] ? `${name}(${args[0]})` : name);

// @db.* native types → canonical PostgreSQL spelling.
const NATIVE_TYPES: Record<string, (args: readonly string[]) => string> = {
  Text: () => "text",
  Char: (a) => `char(${a[0] ?? 1})`,
  VarChar: withPrecision("varchar"),
  Bit: (a) => `bit(${a[0] ?? 1})`,
  VarBit: withPrecision("varbit"),
  Uuid: () => "uuid",
  Xml: () => "xml",
  Inet: () => "inet",
  Citext: () => "citext",
  Oid: () => "oid",
  Json: () => "json",
  JsonB: () => "jsonb",
  ByteA: () => "bytea",
  Money: () => "money",
  Boolean: () => "boolean",
  SmallInt: () => "smallint",
  Integer: () => "integer",
  BigInt: () => "bigint",
  Real: () => "real",
  DoublePrecision: () => "double precision",
  Decimal: (a) => (a.length ? `numeric(${a.join(",")})` : "numeric"),
  Date: () => "date",
  Time: withPrecision("time"),
  Timetz: withPrecision("timetz"),
  Timestamp: withPrecision("timestamp"),
  Timestamptz: withPrecision("timestamptz"),
};

const ACTIONS: Record<string, ReferentialAction> = {
  Cascade: "CASCADE",
  Restrict: "RESTRICT",
  NoAction: "NO ACTION",
  SetNull: "SET NULL",
  SetDefault: "SET DEFAULT",
};

// Defaults Prisma Client fills in itself: the database has no default for them.
const CLIENT_SIDE_DEFAULTS = new Set(["uuid", "cuid", "nanoid", "ulid"]);

const quote = (value: string) => `'${value.replace(/'/g, "''")}'`;

export async function expectedSchemaFromPrisma(schemaText: string): Promise<SchemaShape> {
  // Loaded lazily: @prisma/internals is a dev dependency and heavy; only the drift check needs it.
  const internals = (await import("@prisma/internals")) as Internals & { default?: Internals };
  const getDMMF = internals.default?.getDMMF ?? internals.getDMMF;
  const { datamodel } = await getDMMF({ datamodel: schemaText });
  // relationMode = "prisma" emulates relations in the client: no foreign keys in the database.
  const foreignKeysInDatabase = !/relationMode\s*=\s*"prisma"/.test(schemaText);

  const enums = new Map<string, DmmfEnum>(datamodel.enums.map((e) => [e.name, e]));
  const models = new Map<string, Model>(datamodel.models.map((m) => [m.name, m]));
  const tableOf = (model: Model) => model.dbName ?? model.name;
  const columnOf = (model: Model, fieldName: string) => {
    const field = model.fields.find((f) => f.name === fieldName);
    return field?.dbName ?? fieldName;
  };

  const shape: SchemaShape = { tables: new Map(), enums: new Map() };
  for (const e of datamodel.enums) {
    shape.enums.set(e.dbName ?? e.name, e.values.map((v) => v.dbName ?? v.name));
  }

  for (const model of datamodel.models) {
    const table: TableShape = { columns: new Map(), primaryKey: null, indexes: [], foreignKeys: [] };
    shape.tables.set(tableOf(model), table);

    for (const field of model.fields) {
      if (field.kind !== "scalar" && field.kind !== "enum") continue;
      const type = expectedType(field, enums);
      const { value, checked } = expectedDefault(field, type, enums);
      table.columns.set(field.dbName ?? field.name, {
        type,
        // Prisma creates list columns without NOT NULL even though the field is "required".
        nullable: field.isList || !field.isRequired,
        default: value,
        defaultChecked: checked,
      });
    }

    for (const field of model.fields) {
      if (field.kind !== "object" || !field.relationFromFields?.length || !foreignKeysInDatabase) continue;
      const target = models.get(field.type);
      if (!target) continue;
      const fromRequired = field.relationFromFields.every(
        (name) => model.fields.find((f) => f.name === name)?.isRequired ?? true,
      );
      table.foreignKeys.push({
        columns: field.relationFromFields.map((name) => columnOf(model, name)),
        referencedTable: tableOf(target),
        referencedColumns: (field.relationToFields ?? []).map((name) => columnOf(target, name)),
        // Prisma's defaults: Restrict for a required relation, SetNull for an optional one; Cascade on update.
        onDelete: ACTIONS[field.relationOnDelete ?? (fromRequired ? "Restrict" : "SetNull")] ?? "RESTRICT",
        onUpdate: ACTIONS[field.relationOnUpdate ?? "Cascade"] ?? "CASCADE",
      });
    }
  }

  for (const index of datamodel.indexes) {
    const model = models.get(index.model);
    const table = model && shape.tables.get(tableOf(model));
    if (!model || !table) continue;
    const columns = index.fields.map(
      (f) => columnOf(model, f.name) + (f.sortOrder === "desc" && index.type !== "id" ? " DESC" : ""),
    );
    if (index.type === "id") table.primaryKey = columns;
    else if (index.type === "unique" || index.type === "normal") {
      table.indexes.push({
        columns,
        unique: index.type === "unique",
        method: (index.algorithm ?? "BTree").toLowerCase(),
      });
    }
  }

  if (foreignKeysInDatabase) addImplicitManyToManyTables(shape, datamodel.models, models, enums);
  return shape;
}

function expectedType(field: Field, enums: Map<string, DmmfEnum>): string {
  let base: string;
  if (field.kind === "enum") {
    const e = enums.get(field.type);
    base = e?.dbName ?? field.type;
  } else if (field.nativeType) {
    const [name, args] = field.nativeType;
    base = NATIVE_TYPES[name]?.(args) ?? name.toLowerCase();
  } else {
    base = SCALAR_TYPES[field.type] ?? field.type.toLowerCase();
  }
  return field.isList ? `${base}[]` : base;
}

function expectedDefault(
  field: Field,
  type: string,
  enums: Map<string, DmmfEnum>,
): { value: string | null; checked: boolean } {
  const d = field.default;
  if (d === undefined) return { value: null, checked: true };
  if (typeof d === "object" && !Array.isArray(d)) {
    const fn = d as { name: string; args: readonly (string | number)[] };
    if (fn.name === "now") return { value: "now()", checked: true };
    if (fn.name === "autoincrement") return { value: "autoincrement()", checked: true };
    if (CLIENT_SIDE_DEFAULTS.has(fn.name)) return { value: null, checked: true };
    if (fn.name === "dbgenerated" && fn.args[0] !== undefined) {
      return { value: normaliseDefault(String(fn.args[0]), type), checked: true };
    }
    return { value: null, checked: false };
  }
  const render = (v: string | number | boolean): string | undefined => {
    if (typeof v === "boolean") return String(v);
    if (typeof v === "number") return canonicalNumber(String(v));
    if (field.kind === "enum") {
      const label = enums.get(field.type)?.values.find((x) => x.name === v);
      return quote(label?.dbName ?? v);
    }
    if (["Int", "BigInt", "Float", "Decimal"].includes(field.type)) return canonicalNumber(v);
    // Bytes and DateTime literals print differently in PostgreSQL; not worth normalising.
    if (field.type === "Bytes" || field.type === "DateTime") return undefined;
    return quote(v);
  };
  const values = (Array.isArray(d) ? d : [d]) as (string | number | boolean)[];
  const rendered = values.map(render);
  if (rendered.some((r) => r === undefined)) return { value: null, checked: false };
  const text = Array.isArray(d) ? `ARRAY[${rendered.join(", ")}]` : (rendered[0] as string);
  return { value: normaliseDefault(text, type), checked: true };
}

/**
 * Implicit many-to-many relations get a join table Prisma creates itself: `_RelationName`
 * with columns A and B (A = the model whose name sorts first), primary key (A, B), an index
 * on B, and cascading foreign keys.
 */
function addImplicitManyToManyTables(
  shape: SchemaShape,
  allModels: readonly Model[],
  models: Map<string, Model>,
  enums: Map<string, DmmfEnum>,
): void {
  const seen = new Set<string>();
  for (const model of allModels) {
    for (const field of model.fields) {
      if (field.kind !== "object" || !field.isList || !field.relationName || seen.has(field.relationName)) continue;
      const other = models.get(field.type);
      const back = other?.fields.find(
        (f) => f.relationName === field.relationName && (f !== field || other === model) && f.kind === "object",
      );
      if (!other || !back || !back.isList) continue;
      seen.add(field.relationName);
      const [a, b] = [model, other].sort((x, y) => x.name.localeCompare(y.name)) as [Model, Model];
      const idColumn = (m: Model) => {
        const idField = m.fields.find((f) => f.isId);
        if (!idField) return { name: "id", type: "text" };
        return { name: idField.dbName ?? idField.name, type: expectedType(idField, enums) };
      };
      const [idA, idB] = [idColumn(a), idColumn(b)];
      const fk = (column: string, target: Model, targetColumn: string): ForeignKeyShape => ({
        columns: [column],
        referencedTable: target.dbName ?? target.name,
        referencedColumns: [targetColumn],
        onDelete: "CASCADE",
        onUpdate: "CASCADE",
      });
      shape.tables.set(`_${field.relationName}`, {
        columns: new Map([
          ["A", { type: idA.type, nullable: false, default: null, defaultChecked: true }],
          ["B", { type: idB.type, nullable: false, default: null, defaultChecked: true }],
        ]),
        primaryKey: ["A", "B"],
        indexes: [{ columns: ["B"], unique: false, method: "btree" }],
        foreignKeys: [fk("A", a, idA.name), fk("B", b, idB.name)],
      });
    }
  }
}

// ---------------------------------------------------------------------------------------
// Database → SchemaShape (pg_catalog; information_schema hides index column order and modes)
// ---------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------
// The comparison
// ---------------------------------------------------------------------------------------

const describeIndex = (table: string, index: IndexShape) =>
  `${index.unique ? "unique index" : "index"} ${table}(${index.columns.join(", ")})` +
  (index.method === "btree" ? "" : ` using ${index.method}`);

const describeForeignKey = (table: string, fk: ForeignKeyShape) =>
  `foreign key ${table}(${fk.columns.join(", ")}) -> ${fk.referencedTable}(${fk.referencedColumns.join(", ")})`;

const describeDefault = (value: string | null) => (value === null ? "no default" : `default ${value}`);

/** Items of `a` not matched one-for-one in `b`, by key (a multiset difference). */
function unmatched<T>(a: readonly T[], b: readonly T[], key: (item: T) => string): T[] {
  const counts = new Map<string, number>();
  for (const item of b) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return a.filter((item) => {
    const n = counts.get(key(item)) ?? 0;
    if (n > 0) counts.set(key(item), n - 1);
    return n === 0;
  });
}

/** Readable differences, empty when the database matches schema.prisma. */
export function diffSchemas(expected: SchemaShape, actual: SchemaShape): string[] {
  const lines: string[] = [];
  const tableNames = [...new Set([...expected.tables.keys(), ...actual.tables.keys()])].sort();
  for (const name of tableNames) {
    const want = expected.tables.get(name);
    const have = actual.tables.get(name);
    if (!have) lines.push(`missing table ${name}`);
    else if (!want) lines.push(`extra table ${name}`);
    else lines.push(...diffTable(name, want, have));
  }

  const enumNames = [...new Set([...expected.enums.keys(), ...actual.enums.keys()])].sort();
  for (const name of enumNames) {
    const want = expected.enums.get(name);
    const have = actual.enums.get(name);
    if (!have) lines.push(`missing enum ${name}`);
    else if (!want) lines.push(`extra enum ${name}`);
    else if (want.join("\u0000") !== have.join("\u0000")) {
      lines.push(`enum ${name}: values (${want.join(", ")}) in schema.prisma, (${have.join(", ")}) in database`);
    }
  }
  return lines;
}

function diffTable(name: string, want: TableShape, have: TableShape): string[] {
  const lines: string[] = [];
  for (const [column, w] of want.columns) {
    const h = have.columns.get(column);
    if (!h) {
      lines.push(`missing column ${name}.${column}`);
      continue;
    }
    if (w.type !== h.type) lines.push(`${name}.${column}: type ${w.type} in schema.prisma, ${h.type} in database`);
    if (w.nullable !== h.nullable) {
      const say = (nullable: boolean) => (nullable ? "nullable" : "NOT NULL");
      lines.push(`${name}.${column}: ${say(w.nullable)} in schema.prisma, ${say(h.nullable)} in database`);
    }
    if (w.defaultChecked && w.default !== h.default) {
      lines.push(`${name}.${column}: ${describeDefault(w.default)} in schema.prisma, ${describeDefault(h.default)} in database`);
    }
  }
  for (const column of have.columns.keys()) {
    if (!want.columns.has(column)) lines.push(`extra column ${name}.${column}`);
  }

  const pk = (columns: string[] | null) => (columns ? `(${columns.join(", ")})` : "none");
  if (pk(want.primaryKey) !== pk(have.primaryKey)) {
    lines.push(`${name}: primary key ${pk(want.primaryKey)} in schema.prisma, ${pk(have.primaryKey)} in database`);
  }

  const indexKey = (index: IndexShape) => describeIndex(name, index);
  for (const index of unmatched(want.indexes, have.indexes, indexKey)) lines.push(`missing ${indexKey(index)}`);
  for (const index of unmatched(have.indexes, want.indexes, indexKey)) lines.push(`extra ${indexKey(index)}`);

  // Foreign keys match by what they link; then their actions are compared.
  const fkKey = (fk: ForeignKeyShape) => describeForeignKey(name, fk);
  const fkFull = (fk: ForeignKeyShape) => `${fkKey(fk)} ON DELETE ${fk.onDelete} ON UPDATE ${fk.onUpdate}`;
  const missingFks = unmatched(want.foreignKeys, have.foreignKeys, fkFull);
  const extraFks = unmatched(have.foreignKeys, want.foreignKeys, fkFull);
  for (const fk of missingFks) {
    const twinIndex = extraFks.findIndex((other) => fkKey(other) === fkKey(fk));
    const twin = extraFks[twinIndex];
    if (!twin) {
      lines.push(`missing ${fkFull(fk)}`);
      continue;
    }
    extraFks.splice(twinIndex, 1);
    if (fk.onDelete !== twin.onDelete) {
      lines.push(`${fkKey(fk)}: ON DELETE ${fk.onDelete} in schema.prisma, ${twin.onDelete} in database`);
    }
    if (fk.onUpdate !== twin.onUpdate) {
      lines.push(`${fkKey(fk)}: ON UPDATE ${fk.onUpdate} in schema.prisma, ${twin.onUpdate} in database`);
    }
  }
  for (const fk of extraFks) lines.push(`extra ${fkFull(fk)}`);
  return lines;
}

/** schema.prisma text vs a database: the drift lines (empty = in sync). */
export async function schemaDrift(schemaText: string, database: string | Queryable): Promise<string[]> {
  const [expected, actual] = await Promise.all([expectedSchemaFromPrisma(schemaText), actualSchemaFromDatabase(database)]);
  return diffSchemas(expected, actual);
}
