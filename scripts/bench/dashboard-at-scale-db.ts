import { databaseOn, dropDatabase } from "@/server/db/databases";
import { migrate } from "@/server/db/migrator";

import type { ScaleSize } from "./dashboard-at-scale-load";
import { admin, benchServer, createBenchDatabase } from "./database";

/**
 * The dashboard-at-scale database. By default a scratch one, dropped at the end of the run.
 * With `--keep-db` (BENCH_DATABASE_URL only: the embedded cluster goes with the run) it is
 * `billing_bench_scale_<orgs>_<rows>`, kept, and reused by the next run when its comment says
 * a load of that size finished — loading 10 million rows takes minutes. A half-loaded one
 * (no comment: the run died mid-load) is dropped and loaded again. Drop it with
 * `DROP DATABASE billing_bench_scale_…` when done: it takes gigabytes.
 */

export interface ScaleDatabase {
  url: string;
  reused: boolean;
  /** Records the finished load (and its big org) so a later `--keep-db` run reuses it. */
  markLoaded(bigOrgId: string): Promise<void>;
  bigOrgId(): Promise<string>;
}

const MARK = "dashboard-at-scale loaded; big org ";

export async function openScaleDatabase(size: ScaleSize, keep: boolean, progress: (line: string) => void): Promise<ScaleDatabase> {
  const server = await benchServer();
  if (!keep) {
    const { name, url } = await createBenchDatabase("billing_bench_scale");
    await migrate(url);
    return {
      url,
      reused: false,
      markLoaded: () => Promise.resolve(),
      bigOrgId: () => Promise.reject(new Error(`database ${name} was not loaded`)),
    };
  }
  if (!server.shared) throw new Error("--keep-db needs BENCH_DATABASE_URL (the embedded cluster is deleted after the run)");
  const name = `billing_bench_scale_${size.orgs}_${size.ledgerRows}`;
  const comment = async () =>
    admin(server.adminUrl, async (c) => {
      const { rows } = await c.query<{ comment: string | null }>(
        "SELECT shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname = $1",
        [name],
      );
      return rows.length ? (rows[0]?.comment ?? "") : null;
    });
  const existing = await comment();
  const url = databaseOn(server.adminUrl, name);
  const reused = existing?.startsWith(MARK) ?? false;
  if (reused) {
    progress(`dashboard at scale: reusing the loaded database ${name} (--keep-db)`);
  } else {
    if (existing !== null) {
      progress(`dashboard at scale: ${name} was never fully loaded: dropping it`);
      await dropDatabase(server.adminUrl, name, { applicationName: "bench-admin", politely: true });
    }
    await admin(server.adminUrl, (c) => c.query(`CREATE DATABASE "${name}"`));
  }
  await migrate(url);
  return {
    url,
    reused,
    markLoaded: (bigOrgId) =>
      admin(server.adminUrl, (c) => c.query(`COMMENT ON DATABASE "${name}" IS '${MARK}${bigOrgId}'`)).then(() => undefined),
    bigOrgId: async () => ((await comment()) ?? "").slice(MARK.length),
  };
}
