import { afterAll, inject } from "vitest";

import { closeTestDatabase } from "../helpers/db-handle";

// Runs before every test file. Code under test that reads DATABASE_URL (env(), db()) must
// reach this run's database, never a developer's own DATABASE_URL.
process.env.DATABASE_URL = inject("databaseUrl");

// The per-file Prisma client and pool from testDatabase(), closed when the file is done.
afterAll(closeTestDatabase);
