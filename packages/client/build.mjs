// Builds the package: tsc compiles src/ to build/ (JS + declarations), then rollup bundles
// each entry into dist/ as ESM (.js), CommonJS (.cjs) and ONE self-contained declaration
// file (.d.ts, copied to .d.cts for `require`), so a consumer's tsc reads a few hundred
// lines and nothing of the billing server. Run from the repository: `npm run build:client`.
//
// Both steps work in a temporary directory, and each new file replaces its old one in dist/ by
// a rename, so a reader of dist/ (a test, the e2e product app) running while the package is
// rebuilt — CI runs the second Vitest pass beside `npm test`, whose test:package rebuilds —
// sees the old file or the new one, never none.
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

import { rollup } from "rollup";
import { dts } from "rollup-plugin-dts";

const here = path.dirname(fileURLToPath(import.meta.url));
const work = mkdtempSync(path.join(os.tmpdir(), "billing-client-build-"));
const build = path.join(work, "build");
const fresh = path.join(work, "dist");
const dist = path.join(here, "dist");
const ENTRIES = [
  { name: "index", input: "index" },
  // "use client": the hooks run in the browser; Next keeps server components out of them.
  { name: "react", input: "react/index", banner: '"use client";' },
];
const external = ["superjson", "react", "react/jsx-runtime"];

try {
  execFileSync(
    process.execPath,
    [path.join(here, "../../node_modules/typescript/bin/tsc"), "-p", path.join(here, "tsconfig.json"), "--outDir", build],
    { stdio: "inherit" },
  );

  for (const entry of ENTRIES) {
    const js = await rollup({ input: path.join(build, `${entry.input}.js`), external });
    await js.write({ file: path.join(fresh, `${entry.name}.js`), format: "es", banner: entry.banner });
    await js.write({ file: path.join(fresh, `${entry.name}.cjs`), format: "cjs", banner: entry.banner, exports: "named" });
    await js.close();

    const types = await rollup({ input: path.join(build, `${entry.input}.d.ts`), external, plugins: [dts()] });
    await types.write({ file: path.join(fresh, `${entry.name}.d.ts`), format: "es" });
    await types.close();
    copyFileSync(path.join(fresh, `${entry.name}.d.ts`), path.join(fresh, `${entry.name}.d.cts`));
  }

  // Into dist/: copied beside its old version, then renamed over it (a rename is atomic);
  // what this build no longer makes is removed last.
  mkdirSync(dist, { recursive: true });
  const made = readdirSync(fresh);
  for (const name of made) {
    const incoming = path.join(dist, `.${name}.${process.pid}.tmp`);
    copyFileSync(path.join(fresh, name), incoming);
    renameSync(incoming, path.join(dist, name));
  }
  for (const name of readdirSync(dist)) if (!made.includes(name)) rmSync(path.join(dist, name), { recursive: true, force: true });
} finally {
  rmSync(work, { recursive: true, force: true });
}
process.stdout.write(`built ${ENTRIES.map((e) => e.name).join(", ")} into ${path.relative(process.cwd(), dist) || "."}` + "\n");
