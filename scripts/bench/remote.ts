import { execFileSync, fork, spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";

import { defer } from "./lifecycle";
import type { Latency, Sample } from "./measure";

/**
 * The figures as the product app feels them: the real server (scripts/next-server.ts, from
 * the production build, on the bench's database) in a process of its own, and the product
 * app's client (packages/client) in ANOTHER process (remote-client.ts), over loopback. What the server spends is
 * read from /proc (its CPU per call); the client reports its own.
 *
 * Two servers, one per way into the appRouter, so one run shows what each layer costs:
 * - `lean`: API-key calls to /api/trpc on the node:http path in front of Next (what `npm start` runs);
 * - `next`: the same server with BILLING_API_VIA_NEXT=1, every call through Next's route handler.
 */

export type RemoteOp = "check" | "consume";
export type RemoteCommand =
  | { kind: "throughput"; op: RemoteOp; url: string; apiKey: string; clients: number; warmupMs: number; durationMs: number }
  | { kind: "latency"; op: RemoteOp; urls: string[]; apiKey: string; warmup: number; count: number }
  | { kind: "track"; url: string; apiKey: string; events: number };
export type RemoteReply =
  | { kind: "throughput"; ops: number; seconds: number; clientCpuMs: number }
  /** Per server, in the order asked: its latencies, the client's CPU over its timed calls, and every call it was sent. */
  | { kind: "latency"; latencies: Latency[]; clientCpuMs: number[]; served: number[] }
  /** `confirmed`: the api_calls the SDK's tracker saw confirmed (a bigint as text); `allSent`: close() left nothing. */
  | { kind: "track"; seconds: number; clientCpuMs: number; confirmed: string; allSent: boolean }
  | { kind: "error"; message: string };

export const SERVER_VARIANTS = ["lean", "next"] as const;
export type ServerVariant = (typeof SERVER_VARIANTS)[number];

export interface RemoteServer {
  variant: ServerVariant;
  url: string;
  /** CPU the server process has used so far (ms), from /proc. */
  cpuMs(): number;
}

const NODE_FLAGS = ["--conditions=react-server", "--import", "tsx"];
const TICKS_PER_SECOND = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

function processCpuMs(pid: number | undefined): number {
  if (!pid) return NaN;
  try {
    // Fields after the command name (which may hold spaces): utime is the 14th, stime the 15th.
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
    return ((Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND) * 1000;
  } catch {
    return NaN;
  }
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });

/** Whether `next build` has run here: the real server needs it (`npx next build --webpack`). */
export const hasBuild = () => existsSync(path.resolve(".next/BUILD_ID"));

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}

/** The real server on the bench's database, listening on 127.0.0.1; answers once /api/health does. */
export async function startRemoteServer(variant: ServerVariant, databaseUrl: string): Promise<RemoteServer> {
  const port = await freePort();
  // BENCH_SERVER_CPU_PROF=DIR: each server writes V8 CPU profiles to DIR/<variant> when it exits
  // (one per thread: the main thread's is the larger; the other is tsx's loader).
  const profileDir = process.env.BENCH_SERVER_CPU_PROF;
  const profile = profileDir ? ["--cpu-prof", "--cpu-prof-dir", path.resolve(profileDir, variant)] : [];
  const child = spawn(process.execPath, [...profile, ...NODE_FLAGS, "scripts/next-server.ts", "-p", String(port), "-H", "127.0.0.1"], {
    stdio: ["ignore", "ignore", "inherit"],
    env: {
      ...process.env,
      NODE_ENV: "production",
      NEXT_TELEMETRY_DISABLED: "1",
      DATABASE_URL: databaseUrl,
      PORT: String(port),
      USAGE_REPORT_INTERVAL_SECONDS: "0",
      BILLING_API_VIA_NEXT: variant === "next" ? "1" : "",
    },
  });
  defer(`stop ${variant} server`, () => stop(child));
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`the ${variant} server exited with code ${child.exitCode}`);
    const ok = await fetch(`${base}/api/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (i > 240) throw new Error(`the ${variant} server did not answer /api/health in 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return { variant, url: `${base}/api/trpc`, cpuMs: () => processCpuMs(child.pid) };
}

/** The product app's process: one forked child, commanded call by call. */
export interface RemoteClient {
  throughput(
    server: RemoteServer,
    apiKey: string,
    op: RemoteOp,
    clients: number,
    timing: { warmupMs: number; durationMs: number },
  ): Promise<RemoteSample>;
  /** One client per server, sequential calls timed in blocks per server, the blocks taking turns (remote-client.ts). */
  latency(servers: RemoteServer[], apiKey: string, op: RemoteOp, calls: { warmup: number; count: number }): Promise<RemoteLatency[]>;
  /** The SDK (packages/client) `track()`s `events` api_calls over the spread orgs, then close()s: end to end. */
  track(server: RemoteServer, apiKey: string, events: number): Promise<RemoteTrack>;
}

export interface RemoteTrack {
  seconds: number;
  confirmed: bigint;
  allSent: boolean;
  serverCpuMs: number;
  clientCpuMs: number;
}

/** A throughput window seen from outside: `cpuMs` is the SERVER's, `clientCpuMs` the client's. */
export interface RemoteSample extends Sample {
  clientCpuMs: number;
}
export interface RemoteLatency {
  latency: Latency;
  serverCpuMsPerCall: number;
  clientCpuMsPerCall: number;
}

export function startRemoteClient(): RemoteClient {
  const child = fork(path.resolve("scripts/bench/remote-client.ts"), [], {
    execArgv: NODE_FLAGS,
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  defer("stop the remote client", () => stop(child));
  const ask = (command: RemoteCommand) =>
    new Promise<RemoteReply>((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`the remote client exited (code ${code})`));
      child.once("exit", onExit);
      child.once("message", (reply: RemoteReply) => {
        child.off("exit", onExit);
        if (reply.kind === "error") reject(new Error(`remote client: ${reply.message}`));
        else resolve(reply);
      });
      child.send(command);
    });
  return {
    async throughput(server, apiKey, op, clients, timing) {
      const cpu0 = server.cpuMs();
      const reply = await ask({ kind: "throughput", op, url: server.url, apiKey, clients, ...timing });
      if (reply.kind !== "throughput") throw new Error("remote client: unexpected reply");
      // The server's CPU over warm-up and window alike, scaled to the window's share of the time.
      const serverCpu = ((server.cpuMs() - cpu0) * timing.durationMs) / (timing.warmupMs + timing.durationMs);
      return { ops: reply.ops, seconds: reply.seconds, queries: 0, cpuMs: serverCpu, clientCpuMs: reply.clientCpuMs };
    },
    async track(server, apiKey, events) {
      const cpu0 = server.cpuMs();
      const reply = await ask({ kind: "track", url: server.url, apiKey, events });
      if (reply.kind !== "track") throw new Error("remote client: unexpected reply");
      return {
        seconds: reply.seconds,
        confirmed: BigInt(reply.confirmed),
        allSent: reply.allSent,
        serverCpuMs: server.cpuMs() - cpu0,
        clientCpuMs: reply.clientCpuMs,
      };
    },
    async latency(servers, apiKey, op, calls) {
      const cpu0 = servers.map((server) => server.cpuMs());
      const reply = await ask({ kind: "latency", op, urls: servers.map((server) => server.url), apiKey, ...calls });
      if (reply.kind !== "latency") throw new Error("remote client: unexpected reply");
      // Server CPU over every call it was sent (warm-up included); the client's over its timed calls.
      return servers.map((server, k) => {
        const latency = reply.latencies[k] as Latency;
        return {
          latency,
          serverCpuMsPerCall: (server.cpuMs() - (cpu0[k] ?? 0)) / (reply.served[k] ?? NaN),
          clientCpuMsPerCall: (reply.clientCpuMs[k] ?? NaN) / latency.n,
        };
      });
    },
  };
}
