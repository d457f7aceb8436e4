import os from "node:os";
import { fileURLToPath } from "node:url";
import { configDefaults, defineConfig } from "vitest/config";

// Unit and integration tests share one project: every file under test/ may need the
// database, so the global setup (a fresh, migrated database per run) serves them all.
// Playwright specs live in e2e/ and are run by `playwright test`, never by Vitest.
export default defineConfig({
  resolve: {
    // The `@/` alias of tsconfig.json (only `@/…`, so `@prisma/…` is untouched).
    alias: [{ find: /^@\//, replacement: fileURLToPath(new URL("./src/", import.meta.url)) }],
  },
  test: {
    include: ["test/**/*.test.ts"],
    exclude: [...configDefaults.exclude, "e2e/**", ".data/**", ".next/**", ".next-*/**"],
    globalSetup: ["test/setup/global-setup.ts"],
    setupFiles: ["test/setup/worker.ts"],
    // Separate processes: each test file gets its own pg pools and Prisma client.
    pool: "forks",
    // Integration tests mostly wait on PostgreSQL, so a little more than one worker per
    // core pays off; more would only contend with the database on a small machine.
    maxWorkers: Math.min(4, Math.max(2, os.availableParallelism())),
    testTimeout: 30_000,
    // Creating and migrating a scratch database (migrator tests) takes a few seconds.
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
  },
});
