import { migrate } from "@/server/db/migrator";

import { parseOptions, readCommandLine } from "./lib/args";
import { runScript } from "./lib/run-script";

const values = readCommandLine("npm run migrate", (argv) =>
  parseOptions(argv, { to: { type: "string" } }, "usage: npm run migrate [-- --to MIGRATION]"),
);

await runScript("npm run migrate", async (databaseUrl) => {
  const result = await migrate(databaseUrl, { to: values.to, log: (line) => console.log(line) });
  console.log(
    `migrations: ${result.applied.length} applied, ${result.alreadyApplied.length} already applied` +
      (result.pending.length ? `, ${result.pending.length} left pending (--to ${values.to})` : ""),
  );
});
