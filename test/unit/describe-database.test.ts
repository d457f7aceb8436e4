import path from "node:path";

import { describe, expect, it } from "vitest";

import { dataRoot } from "@/server/db/embedded/data-dir";
import { describeDatabase, withoutPassword } from "@/server/db/embedded/describe-database";

/** What `npm start` prints about its database (scripts/start.ts). */
describe("npm start's database line", () => {
  const embeddedUrl = "postgresql://postgres:s3cret@127.0.0.1:54329/billing";

  it("names the embedded server's real directory under BILLING_DATA_DIR and its URL with the port", () => {
    const line = describeDatabase({ url: embeddedUrl, external: false, env: { BILLING_DATA_DIR: "/srv/billing-data" } });
    expect(line).toBe(`database: embedded PostgreSQL, data in ${path.join("/srv/billing-data", "postgres")}, ${embeddedUrl}`);
    expect(line).not.toContain(".data");
    expect(line).toContain(":54329/");
  });

  it("resolves a relative BILLING_DATA_DIR, and falls back to .data when it is unset or empty", () => {
    expect(describeDatabase({ url: embeddedUrl, external: false, env: { BILLING_DATA_DIR: "tmp/data" } })).toContain(
      `data in ${path.resolve("tmp/data", "postgres")},`,
    );
    for (const env of [{}, { BILLING_DATA_DIR: "" }]) {
      expect(dataRoot(env)).toBe(path.resolve(".data"));
      expect(describeDatabase({ url: embeddedUrl, external: false, env })).toContain(`data in ${path.resolve(".data", "postgres")},`);
    }
  });

  it("shows DATABASE_URL's host, port and database, never its password", () => {
    const line = describeDatabase({ url: "postgresql://billing:hunter2@db.internal:6543/prod?sslmode=require", external: true });
    expect(line).toBe("database: DATABASE_URL postgresql://billing:***@db.internal:6543/prod?sslmode=require");
    expect(withoutPassword("postgresql://billing@db.internal:5432/prod")).toBe("postgresql://billing@db.internal:5432/prod");
    expect(withoutPassword("not a url with hunter2")).not.toContain("hunter2");
  });
});
