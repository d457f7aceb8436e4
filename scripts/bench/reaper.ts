import { spawn } from "node:child_process";
import { createRequire } from "node:module";

/**
 * The last line of cleanup. The bench cleans up after itself on success, error and
 * Ctrl-C (lifecycle.ts), but a process can also die without running any code: SIGKILL,
 * the OOM killer, or tsx's CLI, which SIGKILLs its child when the child does not
 * acknowledge a relayed Ctrl-C within 30 ms — easy to miss on a loaded machine. So a tiny
 * detached watcher waits for the bench's pid to disappear, then stops the embedded
 * postmaster and deletes its directory, or drops the scratch database. After a clean run
 * it finds nothing left to do. It exits as soon as the bench has gone.
 *
 * Its configuration travels in the environment, not argv, so no password shows in `ps`.
 */

const WATCHER = `
const fs = require("node:fs");
const { parentPid, dataDir, adminUrl, database, pgPath } = JSON.parse(process.env.BENCH_REAPER);
const alive = (pid) => { try { process.kill(pid, 0); return true; } catch (e) { return e.code === "EPERM"; } };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
(async () => {
  while (alive(parentPid)) await sleep(500);
  if (dataDir) {
    try {
      const pm = Number(fs.readFileSync(dataDir + "/postmaster.pid", "utf8").split("\\n")[0]);
      if (pm && alive(pm)) {
        process.kill(pm, "SIGINT");
        for (let i = 0; i < 150 && alive(pm); i++) await sleep(100);
      }
    } catch {}
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  if (adminUrl && database) {
    const pg = require(pgPath);
    const client = new pg.Client({ connectionString: adminUrl });
    try {
      await client.connect();
      await client.query("DROP DATABASE IF EXISTS " + client.escapeIdentifier(database) + " WITH (FORCE)");
    } catch {} finally { await client.end().catch(() => {}); }
  }
})();
`;

export function startReaper(config: { dataDir?: string; adminUrl?: string; database?: string }): void {
  const pgPath = createRequire(import.meta.url).resolve("pg");
  const env = { ...process.env, BENCH_REAPER: JSON.stringify({ parentPid: process.pid, pgPath, ...config }) };
  spawn(process.execPath, ["-e", WATCHER], { detached: true, stdio: "ignore", env }).unref();
}
