import { existsSync } from "node:fs";

import { chromium, defineConfig } from "@playwright/test";

import { E2E_OUTPUT_DIR, storageStateOf } from "./e2e/staff";

/**
 * End-to-end tests of the dashboard. `npm run test:e2e` builds (`next build`) and runs
 * these; the web server (scripts/e2e-server.ts) brings its own fresh, seeded database.
 *
 * Browser: PLAYWRIGHT_CHROMIUM_PATH, else the system's /usr/bin/chromium, else the one
 * `npx playwright install chromium` downloaded.
 */

const PORT = Number(process.env.E2E_PORT ?? 3100);
const BASE_URL = `http://127.0.0.1:${PORT}`;

function chromiumExecutable(): string | undefined {
  if (process.env.PLAYWRIGHT_CHROMIUM_PATH) return process.env.PLAYWRIGHT_CHROMIUM_PATH;
  if (existsSync("/usr/bin/chromium")) return "/usr/bin/chromium";
  const bundled = chromium.executablePath();
  if (bundled && existsSync(bundled)) return undefined; // Playwright's own browser
  throw new Error(
    "No Chromium for Playwright: install one with `apt-get install chromium` or `npx playwright install chromium` " +
      "(or set PLAYWRIGHT_CHROMIUM_PATH).",
  );
}

const executablePath = chromiumExecutable();

export default defineConfig({
  testDir: "e2e",
  outputDir: E2E_OUTPUT_DIR,
  fullyParallel: false,
  forbidOnly: Boolean(process.env.CI),
  retries: 0,
  workers: 2,
  reporter: process.env.CI ? [["list"], ["html", { open: "never" }]] : "list",
  // Generous on purpose: CI machines are shared and noisy (2 cores, load 8 and more), and
  // every spec waits on conditions (web-first assertions), never on time, so a long limit
  // costs nothing when the page is fast and only fails a spec that is really stuck.
  timeout: 120_000,
  expect: { timeout: 30_000 },
  use: {
    baseURL: BASE_URL,
    screenshot: "only-on-failure",
    navigationTimeout: 60_000,
    actionTimeout: 30_000,
    trace: "retain-on-failure",
  },
  projects: [
    // Signs in once per role (e2e/auth.setup.ts) and saves a storage state for each.
    {
      name: "setup",
      testMatch: /auth\.setup\.ts$/,
      use: { browserName: "chromium", launchOptions: { executablePath, args: ["--no-sandbox", "--disable-gpu"] } },
    },
    {
      name: "chromium",
      dependencies: ["setup"],
      testIgnore: /auth\.setup\.ts$/,
      use: {
        browserName: "chromium",
        // Least privilege by default; a spec that needs another role says so with test.use().
        storageState: storageStateOf("viewer"),
        viewport: { width: 1366, height: 900 },
        launchOptions: {
          executablePath,
          args: [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            "--no-first-run",
          ],
        },
      },
    },
  ],
  webServer: {
    command: "npx tsx --conditions=react-server scripts/e2e-server.ts",
    url: `${BASE_URL}/api/health`,
    reuseExistingServer: false,
    timeout: 120_000,
    stdout: "pipe",
    stderr: "pipe",
    env: {
      ...process.env,
      E2E_PORT: String(PORT),
      NEXT_TELEMETRY_DISABLED: "1",
      // e2e/events.spec.ts: its webhook receiver listens on 127.0.0.1, deliveries go out every
      // second, and a failed attempt is final (a dead letter to replay, not a retry in 5 s).
      EVENTS_ALLOW_PRIVATE_URLS: "1",
      EVENTS_DELIVERY_INTERVAL_SECONDS: "1",
      EVENTS_MAX_ATTEMPTS: "1",
    } as Record<string, string>,
    // SIGTERM (not the default SIGKILL) so the server can stop Next and remove its database.
    gracefulShutdown: { signal: "SIGTERM", timeout: 20_000 },
  },
});
