import { foldLedger } from "@/server/billing/rollup/fold";
import { createDatabase } from "@/server/db/client";
import { migrate } from "@/server/db/migrator";
import { env } from "@/server/env";
import { seedDatabase, SeedError, type SeedResult } from "@/server/seed";
import { DEMO_WEBHOOK_KEY, demoAnchor, historyStart, seedDemoHistory } from "@/server/seed/history";
import { describeHistory } from "@/server/seed/history/summary";

import { readCommandLine } from "./lib/args";
import { runScript } from "./lib/run-script";
import { parseSeedArgs } from "./seed/options";

// npm run seed -- --orgs N [--seed S] [--legacy-only | --history]
// Adds N demo organizations (appends; never wipes) after applying pending migrations.
// --legacy-only seeds the database as it stands and applies no migration: the host tables
// and the legacy usage JSONB (while its column exists) without any counting, e.g. after
// `npm run migrate -- --to 20261124000000_host_app_tables` for a migration rehearsal.
// --history also writes their last 90 days (src/server/seed/history), as `npm start` does.

const args = readCommandLine("npm run seed", parseSeedArgs);

await runScript("npm run seed", async (databaseUrl) => {
  if (!args.legacyOnly) await migrate(databaseUrl, { log: (line) => console.log(line) });
  const database = createDatabase(databaseUrl, { max: args.history ? 6 : 2, applicationName: "npm run seed" });
  // The history ends now; its orgs are seeded as they stood when it starts.
  const anchor = demoAnchor();
  try {
    const result = await seedDatabase(database.pool, {
      orgs: args.orgs,
      seed: args.seed,
      legacyOnly: args.legacyOnly,
      ...(args.history ? { now: historyStart(anchor) } : {}),
    });
    console.log(summary(result, args.legacyOnly));
    // Fold what was written into the dashboard's rollups (a no-op for --legacy-only: no ledger rows).
    if (args.history) {
      const webhookKey = env().DODO_PAYMENTS_WEBHOOK_KEY[0] ?? DEMO_WEBHOOK_KEY;
      console.log(describeHistory(await seedDemoHistory(database, { seed: args.seed, anchor, webhookKey })));
    }
    await foldLedger(database.prisma);
  } catch (error) {
    if (!(error instanceof SeedError)) throw error;
    console.error(`npm run seed: ${error.message}`);
    return 1;
  } finally {
    await database.close();
  }
});

function summary(result: SeedResult, legacyOnly: boolean): string {
  const n = (value: number | bigint) => value.toLocaleString("en-US");
  const seconds = result.elapsedMs / 1000;
  const ledger = legacyOnly
    ? "no ledger or cache rows (--legacy-only)"
    : `${n(result.ledgerRows)} ledger rows and ${n(result.cacheRows)} cache rows`;
  const legacy = result.legacyUsage ? "the legacy usage JSONB" : "no legacy usage JSONB (its column is dropped)";
  return (
    `Seeded ${n(result.orgs)} organizations (--seed ${result.seed}, slugs ${result.slugPrefix}…) with ` +
    `${n(result.subscriptions)} subscriptions, ${n(result.members)} members, ${n(result.teams)} teams and ` +
    `${n(result.files)} files totalling ${n(result.storageBytes)} bytes (${tebibytes(result.storageBytes)}), ` +
    `${legacy}, plus ${ledger}: ${n(result.rows)} rows in ${seconds.toFixed(1)} s ` +
    `(${n(Math.round(result.rows / Math.max(seconds, 0.001)))} rows/s).`
  );
}

function tebibytes(bytes: bigint): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let value = Number(bytes);
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}
