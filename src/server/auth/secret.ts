import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

import { dataRoot } from "@/server/db/embedded/data-dir";

/** Where the generated secret is kept: `<BILLING_DATA_DIR or .data>/auth-secret`. */
export const authSecretFile = () => path.join(dataRoot(), "auth-secret");

/**
 * The secret better-auth signs session cookies with: `BETTER_AUTH_SECRET` when set (required
 * in any shared deployment: every process of the dashboard must use the same one), else one
 * generated on first use and kept in `<BILLING_DATA_DIR or .data>/auth-secret` (mode 0600),
 * next to the embedded database, so sessions survive a restart of `npm start`.
 */
export function authSecret(): string {
  const fromEnv = process.env.BETTER_AUTH_SECRET?.trim();
  if (fromEnv) {
    if (fromEnv.length < 32) throw new Error("BETTER_AUTH_SECRET must be at least 32 characters (e.g. `openssl rand -base64 32`)");
    return fromEnv;
  }
  const file = authSecretFile();
  if (existsSync(file)) {
    const stored = readFileSync(file, "utf8").trim();
    if (stored.length >= 32) return stored;
  }
  mkdirSync(path.dirname(file), { recursive: true });
  const secret = randomBytes(32).toString("base64url");
  // `wx`: of two processes creating it at once, the second reads the first one's.
  try {
    writeFileSync(file, `${secret}\n`, { flag: "wx", mode: 0o600 });
    chmodSync(file, 0o600);
    return secret;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    return readFileSync(file, "utf8").trim();
  }
}
