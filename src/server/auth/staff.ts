import { randomBytes } from "node:crypto";

import { z } from "zod";

import { recordAudit } from "@/server/billing/audit-log";
import { BillingError } from "@/server/billing/errors";
import type { PrismaClient } from "@/server/db/client";
import { isUniqueViolation } from "@/server/db/pg-errors";

import type { StaffAuth } from "./auth";
import { staffRoleSchema, type StaffRole } from "./roles";

/**
 * Staff management: create a member of staff with a password, list staff, change a role.
 * Public sign-up is disabled, so these are the only ways in. The password is hashed by
 * better-auth's own hasher (the one sign-in verifies with); user, credential account and
 * audit row are written in one transaction.
 */

export const createStaffInput = z.object({
  email: z
    .email()
    .max(254)
    .transform((e) => e.toLowerCase()),
  name: z.string().trim().min(1).max(100).optional(),
  role: staffRoleSchema,
  password: z.string().min(10, "must be at least 10 characters").max(128).optional(),
});
export type CreateStaffInput = z.input<typeof createStaffInput>;

export interface StaffMember {
  id: string;
  email: string;
  name: string;
  role: StaffRole;
  createdAt: Date;
}

/** A password for a person to type once and change later: 16 characters, ~95 bits. */
export function generatePassword(): string {
  return randomBytes(12).toString("base64url");
}

const member = (u: { id: string; email: string; name: string; role: string; createdAt: Date }): StaffMember => ({
  id: u.id,
  email: u.email,
  name: u.name,
  role: staffRoleSchema.catch("viewer").parse(u.role),
  createdAt: u.createdAt,
});

export class StaffService {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly auth: StaffAuth,
  ) {}

  /** Creates a member of staff; returns the password (generated when not given) once. */
  async create(input: CreateStaffInput, actor: string): Promise<{ staff: StaffMember; password: string; generated: boolean }> {
    const parsed = createStaffInput.safeParse(input);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new BillingError("BAD_REQUEST", "invalid_input", `${issue?.path.join(".")}: ${issue?.message}`);
    }
    const { email, role } = parsed.data;
    const generated = parsed.data.password === undefined;
    const password = parsed.data.password ?? generatePassword();
    const context = await this.auth.$context;
    const hash = await context.password.hash(password);
    const id = context.generateId({ model: "user" }) || randomBytes(16).toString("hex");
    try {
      const staff = await this.prisma.$transaction(async (tx) => {
        const user = await tx.staffUser.create({
          data: { id, email, name: parsed.data.name ?? email.split("@")[0] ?? email, role, emailVerified: true },
        });
        await tx.staffAccount.create({
          data: { id: randomBytes(16).toString("hex"), userId: user.id, accountId: user.id, providerId: "credential", password: hash },
        });
        const created = member(user);
        await recordAudit(tx, { actor, action: "staff_user.create", target: { type: "staff_user", id: user.id }, after: created });
        return created;
      });
      return { staff, password, generated };
    } catch (error) {
      if (isUniqueViolation(error)) {
        throw new BillingError("CONFLICT", "staff_exists", `A member of staff with the email ${email} already exists`);
      }
      throw error;
    }
  }

  async list(): Promise<StaffMember[]> {
    const users = await this.prisma.staffUser.findMany({ orderBy: { email: "asc" } });
    return users.map(member);
  }

  async findByEmail(email: string): Promise<StaffMember | null> {
    const user = await this.prisma.staffUser.findUnique({ where: { email: email.toLowerCase() } });
    return user ? member(user) : null;
  }

  /**
   * Changes a role (effective on the member's next request: sessions read the role from the
   * user row). An admin cannot demote themself, so there is always someone who can undo it.
   */
  async setRole(input: { id: string; role: StaffRole }, actor: { id: string; label: string }): Promise<StaffMember> {
    const role = staffRoleSchema.parse(input.role);
    if (input.id === actor.id && role !== "admin") {
      throw new BillingError("CONFLICT", "cannot_demote_self", "You cannot lower your own role; ask another admin");
    }
    return this.prisma.$transaction(async (tx) => {
      const found = await tx.staffUser.findUnique({ where: { id: input.id } });
      if (!found) throw new BillingError("NOT_FOUND", "staff_not_found", `Staff member ${input.id} does not exist`);
      const before = member(found);
      if (before.role === role) return before;
      const after = member(await tx.staffUser.update({ where: { id: input.id }, data: { role, updatedAt: new Date() } }));
      await recordAudit(tx, {
        actor: actor.label,
        action: "staff_user.set_role",
        target: { type: "staff_user", id: input.id },
        before,
        after,
      });
      return after;
    });
  }
}
