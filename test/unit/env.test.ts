import { describe, expect, inject, it } from "vitest";

import { InvalidEnvError, parseEnv } from "@/server/env";

import { runScript } from "../helpers/cli";

/** The InvalidEnvError parseEnv throws for `source`, or fails the test. */
function envError(source: Record<string, string | undefined>): InvalidEnvError {
  try {
    parseEnv(source);
  } catch (error) {
    if (error instanceof InvalidEnvError) return error;
    throw error;
  }
  throw new Error(`parseEnv accepted ${JSON.stringify(source)}`);
}

describe("parseEnv", () => {
  it.each(["mysql://x", "not a url", "http://localhost:5432/db"])("rejects DATABASE_URL %j in one line", (value) => {
    const error = envError({ DATABASE_URL: value });
    expect(error.line).toMatch(/^Invalid environment: DATABASE_URL /);
    expect(error.message).toBe(error.line);
    expect(error.line).not.toContain("\n");
  });

  it("accepts postgres:// and postgresql:// URLs, and treats an empty one as unset", () => {
    expect(parseEnv({ DATABASE_URL: "postgresql://u:p@127.0.0.1:5432/db" }).DATABASE_URL).toBe("postgresql://u:p@127.0.0.1:5432/db");
    expect(parseEnv({ DATABASE_URL: "postgres://127.0.0.1/db" }).DATABASE_URL).toBe("postgres://127.0.0.1/db");
    expect(parseEnv({ DATABASE_URL: "" }).DATABASE_URL).toBeUndefined();
    expect(parseEnv({}).DATABASE_URL).toBeUndefined();
  });

  it.each(["abc", "0", "70000", "1.5", "-1"])("rejects PORT %j naming PORT", (value) => {
    const error = envError({ PORT: value });
    expect(error.line).toMatch(/^Invalid environment: PORT /);
    expect(error.line).not.toContain("\n");
  });

  it("defaults PORT to 3000 and reads a valid one", () => {
    expect(parseEnv({}).PORT).toBe(3000);
    expect(parseEnv({ PORT: "8080" }).PORT).toBe(8080);
  });

  it("splits DODO_PAYMENTS_WEBHOOK_KEY on commas (key rotation)", () => {
    expect(parseEnv({ DODO_PAYMENTS_WEBHOOK_KEY: "a, b" }).DODO_PAYMENTS_WEBHOOK_KEY).toEqual(["a", "b"]);
    expect(parseEnv({ DODO_PAYMENTS_WEBHOOK_KEY: "whsec_one" }).DODO_PAYMENTS_WEBHOOK_KEY).toEqual(["whsec_one"]);
    expect(parseEnv({ DODO_PAYMENTS_WEBHOOK_KEY: " , " }).DODO_PAYMENTS_WEBHOOK_KEY).toEqual([]);
    expect(parseEnv({}).DODO_PAYMENTS_WEBHOOK_KEY).toEqual([]);
  });

  it("rejects a DODO_PAYMENTS_BASE_URL that is not a URL", () => {
    expect(envError({ DODO_PAYMENTS_BASE_URL: "nope" }).line).toMatch(/^Invalid environment: DODO_PAYMENTS_BASE_URL /);
  });
});

describe("a script started with a bad environment", () => {
  it("exits 1 with exactly one line on stderr and no stack trace", async () => {
    // The test database, so that even a script that got past validation would never start
    // the embedded server in .data.
    const result = await runScript("scripts/migrate.ts", [], { PORT: "abc", DATABASE_URL: inject("databaseUrl"), NODE_OPTIONS: "" });
    const stderr = result.stderr.trimEnd();
    expect(stderr.split("\n"), stderr).toHaveLength(1);
    expect(stderr).toMatch(/^Invalid environment: PORT /);
    expect(stderr).not.toMatch(/\bat .*\(|Error:/);
    expect(result.code).toBe(1);
  });
});
