import type { StaffRole } from "@/server/auth/roles";

/** The staff `scripts/e2e-server.ts` creates on the fresh e2e database, one per role. */
export const E2E_STAFF: Record<StaffRole, { email: string; name: string; role: StaffRole; password: string }> = {
  viewer: { email: "viewer@e2e.test", name: "E2E viewer", role: "viewer", password: "viewer-password-e2e" },
  finance: { email: "finance@e2e.test", name: "E2E finance", role: "finance", password: "finance-password-e2e" },
  admin: { email: "admin@e2e.test", name: "E2E admin", role: "admin", password: "admin-password-e2e" },
};

/** Where Playwright writes results; PLAYWRIGHT_OUTPUT_DIR lets two runs share a checkout. */
export const E2E_OUTPUT_DIR = process.env.PLAYWRIGHT_OUTPUT_DIR ?? "test-results";

/** Playwright storage state (session cookie) per role, written by e2e/auth.setup.ts. */
export const storageStateOf = (role: StaffRole) => `${E2E_OUTPUT_DIR}/.auth/${role}.json`;
