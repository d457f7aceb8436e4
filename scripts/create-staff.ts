import { createInterface } from "node:readline";
import { Writable } from "node:stream";

import { createStaffAuth } from "@/server/auth/auth";
import { STAFF_ROLES, staffRoleSchema, type StaffRole } from "@/server/auth/roles";
import { StaffService } from "@/server/auth/staff";
import { BillingError } from "@/server/billing/errors";
import { createDatabase } from "@/server/db/client";

import { parseOptions, readCommandLine, UsageError } from "./lib/args";
import { runScript } from "./lib/run-script";

/**
 * `npm run create-staff -- --email EMAIL --role viewer|finance|admin [--name NAME] [--password P]`
 * creates a member of staff (public sign-up is disabled). Without --password: asked for twice
 * (not echoed) on a terminal, else generated and printed once. `--list` lists staff.
 */
const COMMAND = "npm run create-staff";
const USAGE = `usage: --email EMAIL --role ${STAFF_ROLES.join("|")} [--name NAME] [--password P]`;

type Request = { list: true } | { email: string; role: StaffRole; name?: string; password?: string; by: string };

const request = readCommandLine(COMMAND, (argv): Request => {
  const values = parseOptions(
    argv,
    {
      email: { type: "string" },
      role: { type: "string" },
      name: { type: "string" },
      password: { type: "string" },
      list: { type: "boolean", default: false },
      by: { type: "string", default: process.env.USER ?? "cli" },
    },
    USAGE,
  );
  if (values.list) return { list: true };
  const role = staffRoleSchema.safeParse(values.role);
  if (!values.email || !role.success) throw new UsageError(USAGE);
  return { email: values.email, role: role.data, name: values.name, password: values.password, by: values.by };
});

/** Reads a line from the terminal without echoing it. */
function askHidden(question: string): Promise<string> {
  let muted = false;
  const output = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      if (!muted) process.stdout.write(chunk);
      callback();
    },
  });
  const rl = createInterface({ input: process.stdin, output, terminal: true });
  return new Promise((resolve) => {
    rl.question(question, (answer) => {
      rl.close();
      process.stdout.write("\n");
      resolve(answer);
    });
    muted = true;
  });
}

async function promptPassword(): Promise<string> {
  for (;;) {
    const first = await askHidden("Password (at least 10 characters): ");
    if (first.length < 10) {
      console.log("Too short.");
      continue;
    }
    if ((await askHidden("Again: ")) === first) return first;
    console.log("The two passwords differ; try again.");
  }
}

await runScript(COMMAND, async (databaseUrl) => {
  const database = createDatabase(databaseUrl, { max: 2 });
  try {
    const staff = new StaffService(database.prisma, createStaffAuth(database.prisma, { baseURL: "http://localhost" }));
    if ("list" in request) {
      for (const m of await staff.list()) console.log(`${m.email}  ${m.role}  ${m.name}  created ${m.createdAt.toISOString()}`);
      return;
    }
    if (await staff.findByEmail(request.email)) {
      throw new BillingError("CONFLICT", "staff_exists", `${request.email} already exists`);
    }
    const interactive = !request.password && process.stdin.isTTY && process.stdout.isTTY;
    const password = request.password ?? (interactive ? await promptPassword() : undefined);
    const created = await staff.create({ email: request.email, role: request.role, name: request.name, password }, `cli:${request.by}`);
    console.log(`created ${created.staff.email} (${created.staff.role})`);
    if (created.generated) {
      console.log(`\npassword: ${created.password}\n\nThis password is shown once; only its hash is stored.`);
    }
  } finally {
    await database.close();
  }
});
