import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFile, mkdir, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { stripVTControlCharacters } from "node:util";

import pg from "pg";

import { createScratchDatabase } from "@/server/db/databases";
import { startTemporaryCluster, type StartedServer } from "@/server/db/embedded";
import { migrate } from "@/server/db/migrator";
import { onShutdown } from "@/server/process/shutdown";
import { seedDatabase } from "@/server/seed";

import { choicesArg, parseOptions, readCommandLine } from "./lib/args";

/**
 * npm run test:gate — proves the test command can say no. Each check runs a real runner the
 * way `npm test` runs it (same config, same web server) on a fixture that holds a failing
 * test, and passes only when the runner exits non-zero having counted exactly that failure;
 * the Vitest and CLI checks also run the passing case and want exit 0, so a runner that
 * always fails does not pass either.
 *
 *   vitest      test/gate/vitest-fixture.ts copied into test/ under a temporary name
 *   playwright  test/gate/playwright-fixture.ts copied into e2e/ (needs `next build` first)
 *   cli         `npm run backfill -- --verify` on a scratch database: exit 0 while the counts
 *               agree, exit 1 after one member is added without being counted
 *
 * The checks run at the same time (each mostly waits: on a cluster's start, a web server, a
 * browser), and so do the Vitest check's two runs; each reports its own time. Exit 0 when
 * every check held, 1 otherwise. `--only vitest,cli` runs a subset.
 */

// An unknown name is refused: a gate that silently checks nothing would pass.
const wanted = new Set<string>(
  readCommandLine("npm run test:gate", (argv) => {
    const values = parseOptions(argv, { only: { type: "string" } }, "usage: npm run test:gate [-- --only vitest,playwright,cli]");
    return choicesArg("--only", values.only, ["vitest", "playwright", "cli"], "check");
  }),
);
// Every check's fixture copies, removed when its check ends or the gate is stopped.
const temporaryFiles = new Set<string>();
onShutdown(() => removeTemporaryFiles([...temporaryFiles]));

interface Run {
  code: number | null;
  output: string;
}

function run(command: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.on("error", reject);
    child.on("exit", (code) => resolve({ code, output }));
  });
}

// The runners colour their summaries; read them as plain text.
const plain = (text: string) => stripVTControlCharacters(text);

async function removeTemporaryFiles(files: string[]): Promise<void> {
  await Promise.all(
    files.map(async (file) => {
      await rm(file, { recursive: true, force: true });
      temporaryFiles.delete(file);
    }),
  );
}

/** Copies `fixture` to `target`; `created` collects what the check must remove. */
async function placeFixture(fixture: string, target: string, created: string[]): Promise<string> {
  created.push(target);
  temporaryFiles.add(target);
  await mkdir(path.dirname(target), { recursive: true });
  await copyFile(fixture, target);
  return target;
}

/** The problems found (none: the check held); `created` collects the files it placed. */
type Check = (created: string[]) => Promise<string[]>;

const vitestCheck: Check = async (created) => {
  const dir = `test/zz-gate-${randomBytes(4).toString("hex")}`;
  created.push(dir);
  temporaryFiles.add(dir);
  const file = await placeFixture("test/gate/vitest-fixture.ts", path.join(dir, "gate.test.ts"), created);
  // Two independent runs, each with its own fresh database (the global setup).
  const [failing, passing] = await Promise.all([run("npx", ["vitest", "run", file]), run("npx", ["vitest", "run", file, "-t", "passes"])]);
  const problems: string[] = [];
  if (failing.code === 0 || !/Tests\s+1 failed \| 1 passed/.test(plain(failing.output))) {
    problems.push(
      `vitest: a run with one failing test exited ${failing.code}; wanted non-zero with "1 failed | 1 passed"\n${plain(failing.output).slice(-1500)}`,
    );
  }
  if (passing.code !== 0) problems.push(`vitest: the passing test alone exited ${passing.code}\n${plain(passing.output).slice(-1500)}`);
  return problems;
};

const playwrightCheck: Check = async (created) => {
  const file = await placeFixture("test/gate/playwright-fixture.ts", `e2e/zz-gate-${randomBytes(4).toString("hex")}.spec.ts`, created);
  // --no-deps: the fixture signs in as nobody, so the sign-in setup project is not needed.
  const result = await run("npx", ["playwright", "test", path.basename(file), "--project", "chromium", "--no-deps", "--reporter", "list"]);
  const text = plain(result.output);
  if (result.code !== 0 && /\b1 failed\b/.test(text) && /\b1 passed\b/.test(text)) return [];
  return [
    `playwright: a run with one failing spec exited ${result.code}; wanted non-zero with "1 failed" and "1 passed"\n${text.slice(-2000)}`,
  ];
};

const cliCheck: Check = async () => {
  let cluster: StartedServer | undefined;
  const clusterDir = path.join(os.tmpdir(), `billing-gate-pg-${randomBytes(6).toString("hex")}`);
  try {
    cluster = await startTemporaryCluster(clusterDir);
    const scratch = await createScratchDatabase(cluster.adminUrl, { prefix: "billing_gate", applicationName: "gate-selfcheck" });
    await migrate(scratch.url);
    const pool = new pg.Pool({ connectionString: scratch.url, max: 2, application_name: "gate-selfcheck" });
    // An idle connection the server ends while the cluster stops is expected here, not a crash.
    pool.on("error", () => undefined);
    const verify = () =>
      run("npx", ["tsx", "--conditions=react-server", "scripts/billing-backfill.ts", "--verify"], { DATABASE_URL: scratch.url });
    try {
      await seedDatabase(pool, { orgs: 3, seed: 7, legacyOnly: false });
      const agreeing = await verify();
      await pool.query(
        `INSERT INTO members (org_id, email, name) SELECT id, 'uncounted@example.com', 'Not counted' FROM organizations ORDER BY id LIMIT 1`,
      );
      const drifted = await verify();
      const problems: string[] = [];
      if (agreeing.code !== 0)
        problems.push(`cli: backfill --verify on agreeing counts exited ${agreeing.code}\n${agreeing.output.slice(-1500)}`);
      if (drifted.code !== 1)
        problems.push(`cli: backfill --verify on a drifted database exited ${drifted.code}; wanted 1\n${drifted.output.slice(-1500)}`);
      return problems;
    } finally {
      await pool.end();
    }
  } finally {
    await cluster?.stop();
    await rm(clusterDir, { recursive: true, force: true });
  }
};

const CHECKS: Record<string, Check> = { vitest: vitestCheck, playwright: playwrightCheck, cli: cliCheck };

/** Runs one check; true when it held. */
async function runCheck(name: string, check: Check): Promise<boolean> {
  const started = Date.now();
  const created: string[] = [];
  let problems: string[];
  try {
    problems = await check(created);
  } catch (error) {
    problems = [`${name}: the check itself failed: ${error instanceof Error ? error.stack : String(error)}`];
  } finally {
    await removeTemporaryFiles(created);
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (problems.length === 0) {
    console.log(`gate ${name}: a failing test makes the runner exit non-zero ✓ (${seconds} s)`);
    return true;
  }
  for (const problem of problems) console.error(`gate ${name}: ✗ ${problem}`);
  return false;
}

const held = await Promise.all(
  Object.entries(CHECKS)
    .filter(([name]) => wanted.has(name))
    .map(([name, check]) => runCheck(name, check)),
);
process.exit(held.every(Boolean) ? 0 : 1);
