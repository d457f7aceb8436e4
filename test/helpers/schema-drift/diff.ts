import type { ForeignKeyShape, IndexShape, SchemaShape, TableShape } from "./shape";

/**
 * The comparison of the two shapes, as readable lines. Wording: "missing" = in
 * schema.prisma but not in the database, "extra" = in the database but not in schema.prisma.
 */

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
