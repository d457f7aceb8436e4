import path from "node:path";

/** Where the project's embedded database keeps its files: one place, so each file name is spelled once. */

export const DATA_ROOT = path.resolve(process.env.BILLING_DATA_DIR ?? ".data");
/** Where the embedded server keeps its data (`<BILLING_DATA_DIR>/postgres`). */
export const PG_DIR = () => path.join(DATA_ROOT, "postgres");
/** The superuser's generated password, kept so every later run can connect. */
export const CREDENTIALS_FILE = () => path.join(DATA_ROOT, "embedded.json");
/** Which process started the server, and so must stop it. */
export const OWNER_FILE = () => path.join(DATA_ROOT, "owner.json");
