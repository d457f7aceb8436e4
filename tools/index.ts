/**
 * Development tools that both the scripts and the tests use: the fake Dodo Payments server
 * (the `npm run fake-dodo` demo, and the tests' Dodo), worker OS processes (the rehearsal's
 * traffic, the tests' concurrent workers) and the migrations a rehearsal stops at.
 *
 * Why a top-level folder: none of this may ship, so not src/ (everything there is the app);
 * scripts/ holds commands, which tests must not reach into for helpers, and test/ must not be
 * imported by scripts. tools/ is the one place both import from, through this file; it may
 * import src/, never scripts/ or test/. The Playwright specs import ./fake-dodo alone: the
 * rest pulls in the migrator, which their runner has no use for.
 */

export * from "./fake-dodo";
export * from "./migration-landmarks";
export * from "./worker-process";
