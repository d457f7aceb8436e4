import { getDMMF } from "@prisma/internals";

import { ACTIONS, expectedDefault, expectedType, type DmmfEnum, type Model } from "./prisma-columns";
import type { ForeignKeyShape, SchemaShape, TableShape } from "./shape";

/**
 * schema.prisma → SchemaShape, through the DMMF (the same parse Prisma itself uses): the
 * tables, keys, indexes and foreign keys `prisma migrate` would create for it.
 */

export async function expectedSchemaFromPrisma(schemaText: string): Promise<SchemaShape> {
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
    shape.enums.set(
      e.dbName ?? e.name,
      e.values.map((v) => v.dbName ?? v.name),
    );
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
      const fromRequired = field.relationFromFields.every((name) => model.fields.find((f) => f.name === name)?.isRequired ?? true);
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
    const columns = index.fields.map((f) => columnOf(model, f.name) + (f.sortOrder === "desc" && index.type !== "id" ? " DESC" : ""));
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
