import { actualSchemaFromDatabase, type Queryable } from "./database";
import { diffSchemas } from "./diff";
import { expectedSchemaFromPrisma } from "./schema";

/** The drift guard's entry points; shape.ts says what is compared and what is not. */

export { actualSchemaFromDatabase, type Queryable } from "./database";
export { diffSchemas } from "./diff";
export { expectedSchemaFromPrisma } from "./schema";
export { canonicalType, normaliseDefault, type SchemaShape } from "./shape";

/** schema.prisma text vs a database: the drift lines (empty = in sync). */
export async function schemaDrift(schemaText: string, database: string | Queryable): Promise<string[]> {
  const [expected, actual] = await Promise.all([expectedSchemaFromPrisma(schemaText), actualSchemaFromDatabase(database)]);
  return diffSchemas(expected, actual);
}
