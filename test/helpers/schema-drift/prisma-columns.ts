import type * as PrismaInternals from "@prisma/internals";

import { canonicalNumber, normaliseDefault, type ReferentialAction } from "./shape";

/**
 * A schema.prisma field → the column `prisma migrate` would create for it: its PostgreSQL
 * type and its database default (Prisma's PostgreSQL conventions, spelled as shape.ts does).
 */

type Internals = typeof PrismaInternals;
export type Dmmf = Awaited<ReturnType<Internals["getDMMF"]>>;
export type Model = Dmmf["datamodel"]["models"][number];
export type Field = Model["fields"][number];
export type DmmfEnum = Dmmf["datamodel"]["enums"][number];

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

export const ACTIONS: Record<string, ReferentialAction> = {
  Cascade: "CASCADE",
  Restrict: "RESTRICT",
  NoAction: "NO ACTION",
  SetNull: "SET NULL",
  SetDefault: "SET DEFAULT",
};

// Defaults Prisma Client fills in itself: the database has no default for them.
const CLIENT_SIDE_DEFAULTS = new Set(["uuid", "cuid", "nanoid", "ulid"]);

const quote = (value: string) => `'${value.replace(/'/g, "''")}'`;

export function expectedType(field: Field, enums: Map<string, DmmfEnum>): string {
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

/** The database default `prisma migrate` would write; `checked: false` when schema.prisma does not say which. */
export function expectedDefault(field: Field, type: string, enums: Map<string, DmmfEnum>): { value: string | null; checked: boolean } {
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
