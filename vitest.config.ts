import os from "node:os";
import { fileURLToPath } from "node:url";

import { configDefaults, defineConfig } from "vitest/config";

// Unit and integration tests share one project and one global setup (a fresh, migrated
// database per run). A test that talks to the database lives in test/integration: CI runs
// that folder a second time on the machine's own PostgreSQL (.ci/run), and refuses a test/unit
// file that uses the database helpers.
// Playwright specs live in e2e/ and are run by `playwright test`, never by Vitest.
export default defineConfig({
  resolve: {
    // The `@/` alias of tsconfig.json (only `@/…`, so `@prisma/…` is untouched).
    alias: [
      { find: /^@\//, replacement: fileURLToPath(new URL("./src/", import.meta.url)) },
      // Server modules are marked `import "server-only"`; tests are server code: the marker's
      // empty module, as Next gives server bundles (and scripts get with --conditions=react-server).
      { find: /^server-only$/, replacement: fileURLToPath(new URL("./node_modules/server-only/empty.js", import.meta.url)) },
    ],
  },
  test: {
    include: ["test/**/*.test.ts"],
    exclude: [...configDefaults.exclude, "e2e/**", ".data/**", ".next/**", ".next-*/**", "test/package/**"],
    globalSetup: ["test/setup/global-setup.ts"],
    setupFiles: ["test/setup/worker.ts"],
    // Separate processes: each test file gets its own pg pools and Prisma client.
    pool: "forks",
    // Integration tests mostly wait on PostgreSQL, so a little more than one worker per
    // core pays off; more would only contend with the database on a small machine.
    maxWorkers: Math.min(4, Math.max(2, os.availableParallelism())),
    // Generous on purpose: tests wait on observable conditions, never on time, so a long limit
    // costs nothing when the machine is quiet and keeps a shared, loaded CI machine (2 cores,
    // load 8 and more) from failing tests that are merely slow. A test that needs more (child
    // processes, big data) states its own limit.
    testTimeout: 120_000,
    // Creating and migrating a scratch database (migrator tests) takes a few seconds, many
    // more on a loaded machine.
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
  },
});
