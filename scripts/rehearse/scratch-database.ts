import { createScratchDatabase as createOnServer, type ScratchDatabase } from "@/server/db/databases";

import { RehearsalError } from "./errors";

/**
 * The rehearsal never touches the project's data: it creates `billing_rehearsal_<random>` on
 * the same server as the project database (DATABASE_URL, or the embedded one) and drops it
 * afterwards, politely (its traffic workers may still be closing their connections).
 */

export type { ScratchDatabase };

export async function createScratchDatabase(serverUrl: string): Promise<ScratchDatabase> {
  try {
    return await createOnServer(serverUrl, { prefix: "billing_rehearsal", applicationName: "npm run rehearse", politely: true });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new RehearsalError(
      `could not create a scratch database on ${new URL(serverUrl).host} (${reason}); the rehearsal never runs on ` +
        "the project's own data: give the role CREATEDB, or point DATABASE_URL at a server where it may create databases",
    );
  }
}
