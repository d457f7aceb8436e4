import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";

import { authSecretFile } from "@/server/auth/secret";
import { foldLedger } from "@/server/billing/rollup/fold";
import { createDatabase } from "@/server/db/client";
import { acquireProjectDatabase, describeDatabase, EmbeddedDatabaseError, type ProjectDatabase } from "@/server/db/embedded";
import { migrate, MigrationError } from "@/server/db/migrator";
import { exitOnInvalidEnv } from "@/server/env";
import { onShutdown } from "@/server/process/shutdown";

/**
 * `npm start` (and `npm run dev` with --dev): the embedded database (or DATABASE_URL),
 * migrations, demo data when the database is empty, a production build when the sources
 * changed since the last one, then Next on PORT. Ctrl-C / SIGTERM stops Next, then the
 * database it started, so nothing is left running.
 */

const { values } = parseArgs({ options: { dev: { type: "boolean", default: false } } });
const env = exitOnInvalidEnv();
const DEMO_ORGS = Number(process.env.SEED_ORGS ?? 200);
const nextBin = path.resolve("node_modules/.bin/next");

let database: ProjectDatabase | undefined;
let next: ChildProcess | undefined;
let stopping = false;

// Up to 8 s for Next, then the database's stop (bounded at 10 s): more than the default 10 s.
onShutdown(
  async () => {
    stopping = true;
    await shutdown();
  },
  { forceExitAfterMs: 25_000 },
);

async function shutdown(): Promise<void> {
  if (next && next.exitCode === null && next.signalCode === null) {
    const exited = new Promise((resolve) => next?.once("exit", resolve));
    next.kill("SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 8000))]);
    if (next.exitCode === null && next.signalCode === null) next.kill("SIGKILL");
  }
  await database?.release();
}

function newestSourceChange(): number {
  let newest = 0;
  const visit = (entry: string) => {
    const stat = statSync(entry);
    if (stat.isDirectory()) {
      for (const child of readdirSync(entry)) if (child !== "generated") visit(path.join(entry, child));
    } else {
      newest = Math.max(newest, stat.mtimeMs);
    }
  };
  for (const entry of ["src", "public", "next.config.mjs", "package-lock.json"]) if (existsSync(entry)) visit(entry);
  return newest;
}

function buildIsCurrent(): boolean {
  const buildId = path.resolve(".next/BUILD_ID");
  return existsSync(buildId) && statSync(buildId).mtimeMs >= newestSourceChange();
}

function run(command: string, args: string[], extraEnv: Record<string, string>): ChildProcess {
  return spawn(command, args, {
    stdio: "inherit",
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: "1", ...extraEnv },
  });
}

async function waitForHttp(url: string, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error(`next exited with code ${child.exitCode}`);
    try {
      const response = await fetch(url);
      if (response.status < 500) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} did not answer within 150 s`);
}

async function main(): Promise<void> {
  // Loaded here, not at the top: the catalogue is validated when it loads, and an invalid
  // one must stop `npm start` with one line naming the path (caught below).
  const { PLANS } = await import("@/server/billing/catalogue");
  const { databaseIsEmpty, seedDatabase } = await import("@/server/seed");
  const { DEFAULT_HISTORY_DAYS, DEMO_WEBHOOK_KEY, demoAnchor, historyStart, seedDemoHistory } = await import("@/server/seed/history");
  const { describeHistory } = await import("@/server/seed/history/summary");
  const { seedDemoStaff } = await import("@/server/auth/demo-staff");
  console.log(`plan catalogue: ${PLANS.map((p) => p.id).join(", ")}`);
  database = await acquireProjectDatabase({ databaseUrl: env.DATABASE_URL, command: "npm start", exclusive: true });
  // The real place and address, so a developer can point psql (or the product app) at it.
  console.log(describeDatabase({ url: database.url, external: Boolean(env.DATABASE_URL) }));

  const migrated = await migrate(database.url, { stopAtRefusal: true });
  console.log(`migrations: ${migrated.applied.length} applied, ${migrated.alreadyApplied.length} already applied`);
  if (migrated.refused) {
    // The cleanup waits for a passing `npm run backfill -- --verify`; the dashboard (its
    // Backfill page included) is what gets the database there.
    console.warn(`migrations: ${migrated.refused.name} not applied yet: ${migrated.refused.reason}`);
  }

  // Without a configured secret, the embedded demo verifies webhooks with the public demo
  // key (so `npm run fake-dodo` can sign with it); the history below is signed with it too.
  const useDemoWebhookKey = !env.DATABASE_URL && env.DODO_PAYMENTS_WEBHOOK_KEY.length === 0;
  const webhookKey = env.DODO_PAYMENTS_WEBHOOK_KEY[0] ?? DEMO_WEBHOOK_KEY;
  const seeding = createDatabase(database.url, { max: 6, applicationName: "npm-start-seed" });
  try {
    if (DEMO_ORGS > 0 && (await databaseIsEmpty(seeding.pool))) {
      const started = performance.now();
      // The orgs as they stood 90 days ago, then their history up to now (the hour).
      const anchor = demoAnchor();
      console.log(`seeding ${DEMO_ORGS} demo organizations and their last ${DEFAULT_HISTORY_DAYS} days…`);
      await seedDatabase(seeding.pool, { orgs: DEMO_ORGS, seed: 1, legacyOnly: false, now: historyStart(anchor) });
      console.log(describeHistory(await seedDemoHistory(seeding, { seed: 1, anchor, webhookKey })));
      // The dashboard's rollups, so the first page view does not fold the whole history.
      await foldLedger(seeding.prisma);
      console.log(`demo data ready in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    }
  } finally {
    await seeding.close();
  }

  if (env.DATABASE_URL && !process.env.BETTER_AUTH_SECRET) {
    console.warn(
      `BETTER_AUTH_SECRET is not set: staff sessions are signed with the secret in ${authSecretFile()}; set it (the same value on every instance) in production`,
    );
  }
  // On the embedded default: one demo member of staff per role (printed when ready).
  let demoStaff: Awaited<ReturnType<typeof seedDemoStaff>> = [];
  if (!env.DATABASE_URL) {
    const { createDatabase } = await import("@/server/db/client");
    const handle = createDatabase(database.url, { max: 2 });
    try {
      demoStaff = await seedDemoStaff(handle.prisma);
    } finally {
      await handle.close();
    }
  }

  const childEnv = {
    DATABASE_URL: database.url,
    PORT: String(env.PORT),
    ...(useDemoWebhookKey ? { DODO_PAYMENTS_WEBHOOK_KEY: DEMO_WEBHOOK_KEY } : {}),
  };
  if (useDemoWebhookKey) console.log(`webhooks: DODO_PAYMENTS_WEBHOOK_KEY is not set; verifying with the demo key ${DEMO_WEBHOOK_KEY}`);
  if (!values.dev && !buildIsCurrent()) {
    console.log("building the dashboard (next build)…");
    const build = run(nextBin, ["build"], childEnv);
    const code = await new Promise<number | null>((resolve) => build.once("exit", resolve));
    if (code !== 0) throw new Error(`next build failed with code ${code}`);
  }
  if (stopping) return;

  // Next behind our own server (not `next start`): it takes the client's address from the
  // socket for the sign-in rate limit (scripts/next-server.ts).
  // Production serves the product API's API-key calls from src/server (product-api-http.ts),
  // whose modules need the react-server condition ("server-only"); dev loads none of them.
  const nodeFlags = values.dev ? ["--import", "tsx"] : ["--conditions=react-server", "--import", "tsx"];
  next = run(process.execPath, [...nodeFlags, "scripts/next-server.ts", ...(values.dev ? ["--dev"] : []), "-p", String(env.PORT)], {
    ...childEnv,
    NODE_ENV: values.dev ? "development" : "production",
  });
  next.once("exit", (code) => {
    if (!stopping) {
      console.error(`next exited (code ${code}); stopping`);
      void database?.release().finally(() => process.exit(code ?? 1));
    }
  });
  await waitForHttp(`http://127.0.0.1:${env.PORT}/api/health`, next);
  console.log(`\nLedger & Policy billing is ready: http://localhost:${env.PORT}\n`);
  if (demoStaff.length > 0) {
    console.log("Demo sign-ins (embedded database only; create real staff with `npm run create-staff`):");
    for (const d of demoStaff) {
      console.log(`  ${d.role.padEnd(8)} ${d.email.padEnd(20)} ${d.password ?? "(created earlier; its password was not kept)"}`);
    }
    console.log("");
  }
}

main().catch(async (error: unknown) => {
  const expected =
    error instanceof EmbeddedDatabaseError ||
    error instanceof MigrationError ||
    (error as Error)?.name === "CatalogueError" ||
    (error as Error)?.name === "SeedError";
  console.error(`npm start: ${expected ? (error as Error).message : error instanceof Error ? error.stack : error}`);
  stopping = true;
  await shutdown();
  process.exit(1);
});
