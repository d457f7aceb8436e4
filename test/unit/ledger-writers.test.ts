import { readdir, readFile } from "node:fs/promises";
import path from "node:path";

import { describe, expect, it } from "vitest";

/**
 * Invariant 3 since the ledger is partitioned: a keyed ledger row is written only through the
 * one fragment that claims its key in usage_idempotency_keys (src/server/billing/ledger-insert-sql.ts).
 * The database cannot refuse an unclaimed key cheaply (a trigger would cost every hot-path write
 * a second key probe), so this scan does: no INSERT or COPY into usage_ledger that names
 * idempotency_key anywhere in the code, scripts, tools or tests, but the fragment itself and the
 * bench's copy of the ledger as it was before #16 (its own table, its own unique index).
 */

const ROOTS = ["src", "scripts", "tools", "test"];
const ALLOWED = new Set(["src/server/billing/ledger-insert-sql.ts", "scripts/bench/partition-cost.ts"]);

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(
    entries.map(async (entry) => {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) return entry.name === "generated" || entry.name === "node_modules" ? [] : sourceFiles(full);
      return /\.(ts|tsx|mjs)$/.test(entry.name) ? [full] : [];
    }),
  );
  return nested.flat();
}

/** Each `INSERT INTO usage_ledger (…)` / `COPY usage_ledger (…)` column list in `text`. */
function ledgerColumnLists(text: string): string[] {
  return [...text.matchAll(/(?:INSERT\s+INTO|COPY)\s+"?usage_ledger"?\s*\(([^)]*)\)/gi)].map((m) => m[1] ?? "");
}

describe("keyed ledger rows are written through the key-claiming fragment only", () => {
  it("the scan finds a keyed INSERT and a keyed COPY, and passes a keyless one", () => {
    expect(ledgerColumnLists(`INSERT INTO usage_ledger (org_id, idempotency_key) VALUES`)).toEqual(["org_id, idempotency_key"]);
    expect(ledgerColumnLists(`COPY usage_ledger (id, idempotency_key) FROM STDIN`)).toHaveLength(1);
    expect(ledgerColumnLists(`insert into "usage_ledger" (org_id, metric) values`)).toEqual(["org_id, metric"]);
  });

  it("no file outside the fragment inserts or copies a ledger row with its key", async () => {
    const files = (await Promise.all(ROOTS.map(sourceFiles))).flat();
    expect(files.length).toBeGreaterThan(100);
    const offenders: string[] = [];
    for (const file of files) {
      if (ALLOWED.has(file) || file === "test/unit/ledger-writers.test.ts") continue;
      const keyed = ledgerColumnLists(await readFile(file, "utf8")).filter((columns) => /idempotency_key/.test(columns));
      if (keyed.length) offenders.push(`${file}: ${keyed.length}`);
    }
    expect(offenders).toEqual([]);
  });
});
