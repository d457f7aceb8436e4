import path from "node:path";

/** Where the project's embedded database keeps its files: one place, so each file name is spelled once. */

/**
 * The data directory, absolute: `BILLING_DATA_DIR`, or `.data` when it is unset or empty. The
 * embedded database, the generated auth secret and the demo sign-ins all live in it.
 */
export function dataRoot(env: Record<string, string | undefined> = process.env): string {
  return path.resolve(env.BILLING_DATA_DIR || ".data");
}

export const DATA_ROOT = dataRoot();
/** Where the embedded server keeps its data in a data directory. */
export const pgDirIn = (root: string) => path.join(root, "postgres");
/** Where the embedded server keeps its data (`<BILLING_DATA_DIR>/postgres`). */
export const PG_DIR = () => pgDirIn(DATA_ROOT);
/** The superuser's generated password, kept so every later run can connect. */
export const CREDENTIALS_FILE = () => path.join(DATA_ROOT, "embedded.json");
/** Which process started the server, and so must stop it. */
export const OWNER_FILE = () => path.join(DATA_ROOT, "owner.json");
