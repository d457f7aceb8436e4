import { dataRoot, pgDirIn } from "./data-dir";

/**
 * The line `npm start` prints about its database: for the embedded server, where its files
 * really are (BILLING_DATA_DIR honoured) and its URL with the port it listens on, so a
 * developer can point psql at it (the password is a generated, loopback-only one, already in
 * `embedded.json`); for DATABASE_URL, its address without the password.
 */
export function describeDatabase(options: { url: string; external: boolean; env?: Record<string, string | undefined> }): string {
  if (options.external) return `database: DATABASE_URL ${withoutPassword(options.url)}`;
  return `database: embedded PostgreSQL, data in ${pgDirIn(dataRoot(options.env))}, ${options.url}`;
}

/** `url` with its password replaced by `***` (unchanged when it has none or does not parse). */
export function withoutPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (!parsed.password) return url;
    parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(unparsable URL)";
  }
}
