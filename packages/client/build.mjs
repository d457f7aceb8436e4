// Builds the package: tsc compiles src/ to build/ (JS + declarations), then rollup bundles
// each entry into dist/ as ESM (.js), CommonJS (.cjs) and ONE self-contained declaration
// file (.d.ts, copied to .d.cts for `require`), so a consumer's tsc reads a few hundred
// lines and nothing of the billing server. Run from the repository: `npm run build:client`.
import { execFileSync } from "node:child_process";
import { copyFileSync, rmSync } from "node:fs";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

import { rollup } from "rollup";
import { dts } from "rollup-plugin-dts";

const here = path.dirname(fileURLToPath(import.meta.url));
const build = path.join(here, "build");
const dist = path.join(here, "dist");
const ENTRIES = [
  { name: "index", input: "index" },
  // "use client": the hooks run in the browser; Next keeps server components out of them.
  { name: "react", input: "react/index", banner: '"use client";' },
];
const external = ["superjson", "react", "react/jsx-runtime"];

rmSync(build, { recursive: true, force: true });
rmSync(dist, { recursive: true, force: true });
execFileSync(process.execPath, [path.join(here, "../../node_modules/typescript/bin/tsc"), "-p", path.join(here, "tsconfig.json")], {
  stdio: "inherit",
});

for (const entry of ENTRIES) {
  const js = await rollup({ input: path.join(build, `${entry.input}.js`), external });
  await js.write({ file: path.join(dist, `${entry.name}.js`), format: "es", banner: entry.banner });
  await js.write({ file: path.join(dist, `${entry.name}.cjs`), format: "cjs", banner: entry.banner, exports: "named" });
  await js.close();

  const types = await rollup({ input: path.join(build, `${entry.input}.d.ts`), external, plugins: [dts()] });
  await types.write({ file: path.join(dist, `${entry.name}.d.ts`), format: "es" });
  await types.close();
  copyFileSync(path.join(dist, `${entry.name}.d.ts`), path.join(dist, `${entry.name}.d.cts`));
}
rmSync(build, { recursive: true, force: true });
process.stdout.write(`built ${ENTRIES.map((e) => e.name).join(", ")} into ${path.relative(process.cwd(), dist) || "."}` + "\n");
