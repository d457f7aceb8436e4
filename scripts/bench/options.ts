import { choicesArg, parseOptions } from "../lib/args";

/** Durations and counts of one run: `--quick` for a smoke run (≤ 60 s), else the full bench (≈ 4 min). */
export interface Profile {
  name: "quick" | "full";
  /**
   * Closed-loop throughput: `rounds` rounds, each running every variant for `roundMs`
   * (after `warmupMs` in the first round, `rewarmMs` in the others), back to back.
   */
  rounds: number;
  roundMs: number;
  warmupMs: number;
  rewarmMs: number;
  /** pgbench: runs of this many (whole) seconds, one per round for the first `pgbenchRounds` rounds. */
  pgbenchSeconds: number;
  pgbenchRounds: number;
  levels: number[];
  hotClients: number;
  batchSize: number;
  batchOrgs: number;
  batches: number;
  /** The SDK's buffered track(), end to end: events tracked. */
  trackEvents: number;
  warmupBatches: number;
  checkCalls: number;
  checkWarmup: number;
  oldWayCalls: number;
  oldWayWarmup: number;
  /** Finance's ledger page: rows the ledger is grown by, and timed page loads per variant. */
  ledgerRows: number;
  ledgerCalls: number;
  /** The backfill figure: legacy orgs seeded (≈ 100 members and 20 files each). */
  backfillOrgs: number;
}

const common = { levels: [1, 8, 32], hotClients: 8, batchSize: 1000, batchOrgs: 100 };

export const PROFILES: Record<Profile["name"], Profile> = {
  quick: {
    name: "quick",
    ...common,
    rounds: 2,
    roundMs: 400,
    warmupMs: 200,
    rewarmMs: 100,
    pgbenchSeconds: 1,
    pgbenchRounds: 1,
    batches: 5,
    trackEvents: 50_000,
    warmupBatches: 1,
    checkCalls: 300,
    checkWarmup: 50,
    oldWayCalls: 40,
    oldWayWarmup: 5,
    ledgerRows: 100_000,
    ledgerCalls: 50,
    backfillOrgs: 2_000,
  },
  full: {
    name: "full",
    ...common,
    rounds: 5,
    roundMs: 1000,
    warmupMs: 1000,
    rewarmMs: 200,
    pgbenchSeconds: 1,
    pgbenchRounds: 5,
    batches: 30,
    trackEvents: 300_000,
    warmupBatches: 3,
    checkCalls: 2000,
    checkWarmup: 200,
    oldWayCalls: 300,
    oldWayWarmup: 20,
    ledgerRows: 1_000_000,
    ledgerCalls: 200,
    backfillOrgs: 10_000,
  },
};

/** The bench's parts, in the order they run; `--only` picks some. */
export const SECTIONS = [
  "single",
  "alerts",
  "partitions",
  "hot-row",
  "batch",
  "check",
  "org-size",
  "ledger",
  "backfill",
  "dashboard",
] as const;
/** Run only when named in --only: at full size it loads 10 million ledger rows (≈ 10–20 minutes). */
const OPT_IN: readonly Section[] = ["dashboard"];
export type Section = (typeof SECTIONS)[number];

export interface Options {
  /** `--help`: print BENCH_HELP and run nothing. */
  help: boolean;
  profile: Profile;
  json?: string;
  pgbench: boolean;
  /** The separate-process columns (the real server, a client process); `--no-remote` skips them. */
  remote: boolean;
  sections: ReadonlySet<Section>;
  /** `--keep-db`: the dashboard section keeps its loaded database and reuses it next time. */
  keepDb: boolean;
}

const USAGE = "usage: npm run bench [-- --quick] [--only SECTION,…] [--json FILE] [--no-pgbench] [--no-remote] [--keep-db]";

export const BENCH_HELP = `${USAGE}

  --quick        short durations and a smaller backfill (a smoke run)
  --only LIST    run only these parts: ${SECTIONS.join(", ")}
                 (e.g. --only backfill: the backfill figure on its own; "dashboard",
                 issue #16's dashboard at 10 million ledger rows, runs only when named)
  --json FILE    also write the figures as JSON to FILE
  --no-pgbench   skip the pgbench columns even when pgbench is installed
  --keep-db      dashboard: keep the loaded database (BENCH_DATABASE_URL only) and reuse
                 it on the next run instead of loading millions of rows again
  --no-remote    skip the separate-process columns (the real server from the production
                 build, scripts/next-server.ts, lean and via Next, called by a client process)

  BENCH_DATABASE_URL  a PostgreSQL server URL: the bench creates billing_bench_<random> (and
                      billing_bench_backfill_<random> copies) on it and drops them afterwards
                      (default: a throw-away embedded cluster)
  PGBENCH             the pgbench binary (default: pgbench on PATH)
  BENCH_SERVER_CPU_PROF  a directory: the real servers write V8 CPU profiles under it on exit
                      (<dir>/lean, <dir>/next; where a remote call's server time goes)`;

/** The bench's command line; any mistake is a UsageError with one line. */
export function parseBenchOptions(argv: string[]): Options {
  const values = parseOptions(
    argv,
    {
      quick: { type: "boolean", default: false },
      json: { type: "string" },
      "no-pgbench": { type: "boolean", default: false },
      "no-remote": { type: "boolean", default: false },
      "keep-db": { type: "boolean", default: false },
      only: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
    USAGE,
  );
  return {
    help: values.help,
    profile: PROFILES[values.quick ? "quick" : "full"],
    json: values.json,
    pgbench: !values["no-pgbench"],
    remote: !values["no-remote"],
    sections: new Set(
      values.only === undefined ? SECTIONS.filter((s) => !OPT_IN.includes(s)) : choicesArg("--only", values.only, SECTIONS, "part"),
    ),
    keepDb: values["keep-db"],
  };
}
