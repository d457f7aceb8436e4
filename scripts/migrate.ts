import { parseArgs } from "node:util";
import { migrate } from "@/server/db/migrator";
import { runScript } from "./lib/run-script";

const { values } = parseArgs({ options: { to: { type: "string" } } });

await runScript("npm run migrate", async (databaseUrl) => {
  const result = await migrate(databaseUrl, { to: values.to, log: (line) => console.log(line) });
  console.log(
    `migrations: ${result.applied.length} applied, ${result.alreadyApplied.length} already applied` +
      (result.pending.length ? `, ${result.pending.length} left pending (--to ${values.to})` : ""),
  );
});
