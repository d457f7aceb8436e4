// `npm test`'s first step: runs `prisma generate` only when prisma/schema.prisma or the Prisma
// version changed since the client in src/generated/prisma was generated (a stamp file there
// records both). Why not always: CI starts its second Vitest pass beside `npm test` once the
// client is generated (.ci/run), and a regeneration would rewrite the files that pass imports.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import process from "node:process";

const STAMP = "src/generated/prisma/.schema-stamp";
const stamp = createHash("sha256")
  .update(readFileSync("prisma/schema.prisma"))
  .update(readFileSync("node_modules/prisma/package.json"))
  .digest("hex");
if (existsSync(STAMP) && readFileSync(STAMP, "utf8") === stamp) process.exit(0);
execFileSync("npm", ["run", "generate", "--silent"], { stdio: "inherit" });
writeFileSync(STAMP, stamp);
