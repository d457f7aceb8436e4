/**
 * Drift guard: does the database the hand-written migrations produce match what
 * `prisma/schema.prisma` describes? Prisma's own `migrate diff` needs the schema engine,
 * which cannot be downloaded here, so this compares the two directly.
 *
 * Both sides are reduced to one shape (`SchemaShape`, this file): tables, columns (type incl.
 * precision, nullability, default), primary key, unique and plain indexes (columns in
 * order), foreign keys (columns, target, ON DELETE / ON UPDATE) and enums. Constraint and
 * index NAMES are not compared, only what they cover. Objects Prisma cannot express are
 * ignored on purpose: CHECK constraints, triggers, functions, partial and expression
 * indexes, and the `_prisma_migrations` bookkeeping table.
 *
 * schema.ts reads schema.prisma, database.ts reads the database, diff.ts compares the two.
 * Test support only: it needs @prisma/internals, a dev dependency, and nothing ships it.
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

/** Tables that are not part of the schema: the migrator's bookkeeping. */
export const IGNORED_TABLES = new Set(["_prisma_migrations"]);

// Normalisation shared by both sides.

// `::type` casts PostgreSQL adds when it prints a default ('member'::text, '{}'::jsonb).
const CAST =
  /::(?:[a-z_][a-z0-9_]*\.)?(?:"[^"]+"|character varying|bit varying|double precision|(?:timestamp|time)(?:\(\d+\))? with(?:out)? time zone|[a-z_][a-z0-9_]*)(?:\(\d+(?:,\s*\d+)?\))?(?:\[\])*/gi;

const NUMERIC_TYPES = /^(smallint|integer|bigint|real|double precision|numeric|money|oid)(\(|$)/;

export function canonicalNumber(text: string): string {
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
