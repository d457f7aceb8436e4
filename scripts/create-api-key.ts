import { API_SCOPES, ApiKeyService, apiScopeSchema, type ApiScope } from "@/server/billing/api-keys";
import { createDatabase } from "@/server/db/client";

import { parseOptions, readCommandLine, UsageError } from "./lib/args";
import { runScript } from "./lib/run-script";

/**
 * `npm run create-api-key -- --name NAME --scopes usage:write,usage:read,entitlements:read`
 * prints the new key's secret once. `--list` shows keys (never secrets); `--revoke ID` revokes.
 */
const COMMAND = "npm run create-api-key";
const USAGE = `usage: --name NAME --scopes ${API_SCOPES.join(",")}`;

type Request = { list: true } | { revoke: string } | { name: string; scopes: ApiScope[]; by: string };

const request = readCommandLine(COMMAND, (argv): Request => {
  const values = parseOptions(
    argv,
    {
      name: { type: "string" },
      scopes: { type: "string" },
      list: { type: "boolean", default: false },
      revoke: { type: "string" },
      by: { type: "string", default: process.env.USER ?? "cli" },
    },
    USAGE,
  );
  if (values.list) return { list: true };
  if (values.revoke) return { revoke: values.revoke };
  const scopes = (values.scopes ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const invalid = scopes.filter((s) => !apiScopeSchema.safeParse(s).success);
  if (!values.name || scopes.length === 0 || invalid.length > 0) {
    throw new UsageError(`${invalid.length ? `unknown scope ${invalid.join(", ")}; ` : ""}${USAGE}`);
  }
  return { name: values.name, scopes: scopes as ApiScope[], by: values.by };
});

await runScript(COMMAND, async (databaseUrl) => {
  const database = createDatabase(databaseUrl, { max: 1 });
  const keys = new ApiKeyService(database.prisma);
  try {
    if ("list" in request) {
      for (const key of await keys.list()) {
        const state = key.revokedAt ? `revoked ${key.revokedAt.toISOString()}` : "active";
        console.log(
          `${key.id}  ${key.prefix}  ${key.name}  [${key.scopes.join(",")}]  ${state}  last used ${key.lastUsedAt?.toISOString() ?? "never"}`,
        );
      }
      return;
    }
    if ("revoke" in request) {
      const key = await keys.revoke(request.revoke);
      console.log(`revoked ${key.prefix} (${key.name})`);
      return;
    }
    const { key, secret } = await keys.create({ name: request.name, scopes: request.scopes, createdBy: request.by });
    console.log(
      `API key "${key.name}" (${key.prefix}) with scopes ${key.scopes.join(", ")}:\n\n  ${secret}\n\nThis secret is shown once; only its hash is stored.`,
    );
  } finally {
    await database.close();
  }
});
