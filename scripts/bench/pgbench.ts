import { execFile, spawnSync } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";

import { CONSUME_ALSO_METRIC, CONSUME_SQL, INCREMENT_SQL, POLICY_READ_SQL } from "./baseline";
import { defer } from "./lifecycle";
import { HOT_ORG, orgIdSql, SPREAD_ORGS } from "./setup";

/**
 * pgbench running the baseline's own SQL (C client, no Node at all): the ceiling of what
 * the database does for this work on this machine. Prepared statements (`-M prepared`), as
 * the services' client and the bare-pg baseline use.
 */

export const PGBENCH = process.env.PGBENCH ?? "pgbench";

export function pgbenchVersion(): string | null {
  const result = spawnSync(PGBENCH, ["--version"], { encoding: "utf8" });
  return result.status === 0 ? result.stdout.trim() : null;
}

/** `$n` → the n-th pgbench expression; one line, ending in `;`. */
function render(sql: string, params: string[]): string {
  const text = sql.replace(/\$(\d+)/g, (_, n: string) => {
    const param = params[Number(n) - 1];
    if (param === undefined) throw new Error(`pgbench script: no expression for $${n}`);
    return param;
  });
  return `${text.replace(/\s+/g, " ").trim()};`;
}

const ORG = orgIdSql(":n");
// Unique per transaction; a collision (2^-63) would only make that consume a replay.
const KEY = "('pgb-' || (:client_id)::text || '-' || (:k)::text)";
const pickOrg = (hot: boolean) => (hot ? `\\set n ${HOT_ORG}` : `\\set n random(1, ${SPREAD_ORGS})`);
const pickKey = "\\set k random(1, 9223372036854775806)";

export const scripts = {
  consume: (hot = false) =>
    [
      pickOrg(hot),
      pickKey,
      render(POLICY_READ_SQL, [ORG]),
      // The space after each ':' keeps pgbench from reading `:"…` as a variable.
      render(CONSUME_SQL, [
        ORG,
        KEY,
        "1",
        "'api_calls'",
        "NULL",
        "'api_call'",
        "'pgbench'",
        `'{"action": "api.call"}'`,
        `'${CONSUME_ALSO_METRIC}'`,
      ]),
    ].join("\n"),
  increment: () =>
    [pickOrg(false), pickKey, render(INCREMENT_SQL, [ORG, "'api_calls'", "1", "'api_call'", KEY, "'pgbench'", "'{}'"])].join("\n"),
  check: () => [pickOrg(false), render(POLICY_READ_SQL, [ORG])].join("\n"),
};

export interface PgbenchResult {
  tps: number;
  latencyAvgMs: number | null;
  failed: number;
  transactions: number;
  /** Per-transaction latencies (ms), when asked for. */
  latenciesMs?: number[];
}

export async function runPgbench(options: {
  url: string;
  script: string;
  clients: number;
  /** Fixed duration (whole seconds) … */
  seconds?: number;
  /** … or a fixed number of transactions per client. */
  transactions?: number;
  logLatencies?: boolean;
}): Promise<PgbenchResult> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "billing-bench-pgbench-"));
  const removeDir = defer("remove pgbench temp dir", () => rm(dir, { recursive: true, force: true }));
  try {
    const file = path.join(dir, "script.sql");
    await writeFile(file, `${options.script}\n`);
    const args = ["-n", "-M", "prepared", "-c", String(options.clients), "-j", String(Math.min(options.clients, 2)), "-f", file];
    if (options.transactions !== undefined) args.push("-t", String(options.transactions));
    else args.push("-T", String(Math.max(1, Math.round(options.seconds ?? 5))));
    if (options.logLatencies) args.push("-l", `--log-prefix=${path.join(dir, "lat")}`);
    // The password goes in the environment: argv is visible to everyone in `ps`.
    const url = new URL(options.url);
    const password = decodeURIComponent(url.password);
    url.password = "";
    args.push(url.toString());
    const env = { ...process.env, ...(password ? { PGPASSWORD: password } : {}) };

    let stopChild = async () => {};
    const stdout = await new Promise<string>((resolve, reject) => {
      const child = execFile(PGBENCH, args, { cwd: dir, env, maxBuffer: 16 * 1024 * 1024 }, (error, out, err) => {
        if (error) reject(new Error(`pgbench failed (${error.message.split("\n")[0]}):\n${err || out}`));
        else resolve(out);
      });
      stopChild = defer("stop pgbench", () => {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      });
    }).finally(() => stopChild());

    const number = (re: RegExp) => {
      const m = stdout.match(re);
      return m?.[1] === undefined ? null : Number(m[1]);
    };
    const tps = number(/tps = ([\d.]+) \(without initial connection time\)/) ?? number(/tps = ([\d.]+)/);
    if (tps === null) throw new Error(`could not read pgbench's tps from:\n${stdout}`);
    const result: PgbenchResult = {
      tps,
      latencyAvgMs: number(/latency average = ([\d.]+) ms/),
      failed: number(/number of failed transactions: (\d+)/) ?? 0,
      transactions: number(/number of transactions actually processed: (\d+)/) ?? 0,
    };
    if (options.logLatencies) {
      const logs = (await readdir(dir)).filter((f) => f.startsWith("lat."));
      const latencies: number[] = [];
      for (const log of logs) {
        for (const line of (await readFile(path.join(dir, log), "utf8")).split("\n")) {
          const micros = Number(line.split(" ")[2]);
          if (line && Number.isFinite(micros)) latencies.push(micros / 1000);
        }
      }
      result.latenciesMs = latencies;
    }
    return result;
  } finally {
    await removeDir();
  }
}
