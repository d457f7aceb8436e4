import { parseArgs } from "node:util";
import { API_SCOPES, ApiKeyService, apiScopeSchema } from "@/server/billing/api-keys";
import { BillingError } from "@/server/billing/errors";
import { createDatabase } from "@/server/db/client";
import { runScript } from "./lib/run-script";

/**
 * `npm run create-api-key -- --name NAME --scopes usage:write,usage:read,entitlements:read`
 * prints the new key's secret once. `--list` shows keys (never secrets); `--revoke ID` revokes.
 */
const { values } = parseArgs({
  options: {
    name: { type: "string" },
    scopes: { type: "string" },
    list: { type: "boolean", default: false },
    revoke: { type: "string" },
    by: { type: "string", default: process.env.USER ?? "cli" },
  },
});

await runScript("npm run create-api-key", async (databaseUrl) => {
  const database = createDatabase(databaseUrl, { max: 1 });
  const keys = new ApiKeyService(database.prisma);
  try {
    if (values.list) {
      for (const key of await keys.list()) {
        const state = key.revokedAt ? `revoked ${key.revokedAt.toISOString()}` : "active";
        console.log(`${key.id}  ${key.prefix}  ${key.name}  [${key.scopes.join(",")}]  ${state}  last used ${key.lastUsedAt?.toISOString() ?? "never"}`);
      }
      return;
    }
    if (values.revoke) {
      const key = await keys.revoke(values.revoke);
      console.log(`revoked ${key.prefix} (${key.name})`);
      return;
    }
    const scopes = (values.scopes ?? "").split(",").map((s) => s.trim()).filter(Boolean);
    const invalid = scopes.filter((s) => !apiScopeSchema.safeParse(s).success);
    if (!values.name || scopes.length === 0 || invalid.length > 0) {
      throw new BillingError(
        "BAD_REQUEST",
        "usage",
        `${invalid.length ? `unknown scope ${invalid.join(", ")}; ` : ""}usage: --name NAME --scopes ${API_SCOPES.join(",")}`,
      );
    }
    const { key, secret } = await keys.create({ name: values.name, scopes: scopes as never, createdBy: values.by as string });
    console.log(`API key "${key.name}" (${key.prefix}) with scopes ${key.scopes.join(", ")}:\n\n  ${secret}\n\nThis secret is shown once; only its hash is stored.`);
  } finally {
    await database.close();
  }
});
