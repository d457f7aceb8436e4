import { BillingError } from "@/server/billing/errors";
import { acquireProjectDatabase, EmbeddedDatabaseError } from "@/server/db/embedded";
import { MigrationError } from "@/server/db/migrator";
import { exitOnInvalidEnv } from "@/server/env";

import { USAGE_EXIT_CODE, UsageError } from "./args";

/**
 * The frame every command-line script runs in: a validated environment, the project
 * database (DATABASE_URL, or the embedded server: the running one, or started for this run
 * and stopped after), and expected failures printed as one line with exit code 1 (a
 * UsageError found this late too: most are caught before, by readCommandLine).
 */
export async function runScript(command: string, main: (databaseUrl: string) => Promise<number | void>): Promise<never> {
  const env = exitOnInvalidEnv();
  let code = 0;
  try {
    const database = await acquireProjectDatabase({ databaseUrl: env.DATABASE_URL, command });
    try {
      code = (await main(database.url)) ?? 0;
    } finally {
      await database.release();
    }
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`${command}: ${error.message}`);
      code = USAGE_EXIT_CODE;
    } else if (error instanceof MigrationError || error instanceof EmbeddedDatabaseError || error instanceof BillingError) {
      console.error(`${command}: ${error.message}`);
      code = 1;
    } else {
      console.error(error);
      code = 1;
    }
  }
  process.exit(code);
}
