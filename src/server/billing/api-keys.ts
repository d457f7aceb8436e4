import { createHash, randomBytes } from "node:crypto";

import { z } from "zod";

import type { PrismaClient } from "@/server/db/client";
import type { Db } from "@/server/db/tx";

import { API_SCOPES, type ApiScope } from "./api-scopes";
import { recordAudit } from "./audit-log";
import { BillingError, parseInput } from "./errors";

export { API_SCOPES, type ApiScope };
export const apiScopeSchema = z.enum(API_SCOPES);

/** A new key: a name for people, and at least one scope. */
export const createApiKeyInput = z.object({
  name: z.string().trim().min(1).max(100),
  scopes: z.array(apiScopeSchema).min(1, "choose at least one scope"),
});
export type CreateApiKeyInput = z.input<typeof createApiKeyInput>;

export interface ApiKeyInfo {
  id: string;
  name: string;
  prefix: string;
  scopes: ApiScope[];
  createdBy: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

export interface AuthenticatedKey {
  id: string;
  name: string;
  scopes: ReadonlySet<ApiScope>;
}

const KEY_PATTERN = /^bk_([a-z0-9]{8})_([A-Za-z0-9_-]{43})$/;
// Writing last_used_at on every request would turn each read into a write; a minute's
// precision is what a person looking at the key list needs.
const LAST_USED_PRECISION_MS = 60_000;

export const hashSecret = (secret: string) => createHash("sha256").update(secret).digest("hex");

// Every product-app call authenticates; a key looked up within the last few seconds is
// trusted without another query. A revocation takes effect at once in this process and
// within AUTH_CACHE_MS in others.
export const AUTH_CACHE_MS = 5_000;
const AUTH_CACHE_MAX = 1_000;
const recentlyAuthenticated = new Map<string, { key: AuthenticatedKey; until: number }>();

/** `db` may be a transaction client: the staff writes below run a key's write and its audit row in one. */
export class ApiKeyService {
  constructor(private readonly prisma: Db) {}

  /** Creates a key; the returned secret is never stored or shown again. */
  async create(input: CreateApiKeyInput & { createdBy: string }): Promise<{ key: ApiKeyInfo; secret: string }> {
    const { name, scopes } = parseInput(createApiKeyInput, input);
    const prefix = randomBytes(6).toString("hex").slice(0, 8);
    const secret = `bk_${prefix}_${randomBytes(32).toString("base64url")}`;
    const row = await this.prisma.apiKey.create({
      data: { name, prefix: `bk_${prefix}`, secretHash: hashSecret(secret), scopes: [...new Set(scopes)], createdBy: input.createdBy },
    });
    return { key: this.info(row), secret };
  }

  async list(): Promise<ApiKeyInfo[]> {
    const rows = await this.prisma.apiKey.findMany({ orderBy: { createdAt: "desc" } });
    return rows.map((r) => this.info(r));
  }

  /** One key by id; NOT_FOUND (`api_key_not_found`) for an unknown one. */
  async get(id: string): Promise<ApiKeyInfo> {
    return this.info(await this.find(id));
  }

  async revoke(id: string): Promise<ApiKeyInfo> {
    const found = await this.find(id);
    const row = found.revokedAt ? found : await this.prisma.apiKey.update({ where: { id }, data: { revokedAt: new Date() } });
    recentlyAuthenticated.delete(row.secretHash);
    return this.info(row);
  }

  /**
   * The key behind an `Authorization: Bearer …` header, or an UNAUTHORIZED error.
   * Never logs or echoes the secret.
   */
  async authenticate(authorization: string | null | undefined): Promise<AuthenticatedKey> {
    const secret = authorization?.match(/^Bearer\s+(\S+)$/i)?.[1];
    if (!secret) throw new BillingError("UNAUTHORIZED", "api_key_missing", "Send an API key as `Authorization: Bearer <key>`");
    if (!KEY_PATTERN.test(secret)) throw new BillingError("UNAUTHORIZED", "api_key_invalid", "The API key is not valid");
    const secretHash = hashSecret(secret);
    const now = Date.now();
    const cached = recentlyAuthenticated.get(secretHash);
    if (cached && cached.until > now) return cached.key;
    const row = await this.prisma.apiKey.findUnique({ where: { secretHash } });
    if (!row) throw new BillingError("UNAUTHORIZED", "api_key_invalid", "The API key is not valid");
    if (row.revokedAt) throw new BillingError("UNAUTHORIZED", "api_key_revoked", "The API key has been revoked");
    if (!row.lastUsedAt || now - row.lastUsedAt.getTime() > LAST_USED_PRECISION_MS) {
      await this.prisma.apiKey.update({ where: { id: row.id }, data: { lastUsedAt: new Date(now) } });
    }
    const key: AuthenticatedKey = { id: row.id, name: row.name, scopes: new Set(row.scopes as ApiScope[]) };
    if (recentlyAuthenticated.size >= AUTH_CACHE_MAX) recentlyAuthenticated.clear();
    recentlyAuthenticated.set(secretHash, { key, until: now + AUTH_CACHE_MS });
    return key;
  }

  private async find(id: string) {
    const found = await this.prisma.apiKey.findUnique({ where: { id } });
    if (!found) throw new BillingError("NOT_FOUND", "api_key_not_found", `API key ${id} does not exist`);
    return found;
  }

  private info(row: {
    id: string;
    name: string;
    prefix: string;
    scopes: string[];
    createdBy: string;
    createdAt: Date;
    lastUsedAt: Date | null;
    revokedAt: Date | null;
  }): ApiKeyInfo {
    // Field by field: the row also holds `secretHash`, which must reach neither an answer nor
    // the audit log (whose `before`/`after` are these objects).
    const { id, name, prefix, createdBy, createdAt, lastUsedAt, revokedAt } = row;
    return { id, name, prefix, scopes: row.scopes as ApiScope[], createdBy, createdAt, lastUsedAt, revokedAt };
  }
}

/**
 * A staff member creates a key: the key and its audit row (`api_key.create`, the key without
 * its secret) commit together or not at all.
 */
export function createApiKeyAsStaff(
  client: PrismaClient,
  input: CreateApiKeyInput,
  actor: string,
): Promise<{ key: ApiKeyInfo; secret: string }> {
  return client.$transaction(async (tx) => {
    const created = await new ApiKeyService(tx).create({ ...input, createdBy: actor });
    await recordAudit(tx, { actor, action: "api_key.create", target: { type: "api_key", id: created.key.id }, after: created.key });
    return created;
  });
}

/**
 * A staff member revokes a key, with its audit row in the same transaction. Revoking a key
 * already revoked changes nothing and is not logged; an unknown key is NOT_FOUND.
 */
export function revokeApiKeyAsStaff(client: PrismaClient, id: string, actor: string): Promise<ApiKeyInfo> {
  return client.$transaction(async (tx) => {
    const keys = new ApiKeyService(tx);
    const before = await keys.get(id);
    const after = await keys.revoke(id);
    if (!before.revokedAt) {
      await recordAudit(tx, { actor, action: "api_key.revoke", target: { type: "api_key", id }, before, after });
    }
    return after;
  });
}

export function requireScope(key: AuthenticatedKey, scope: ApiScope): void {
  if (!key.scopes.has(scope)) {
    throw new BillingError("FORBIDDEN", "scope_missing", `The API key "${key.name}" lacks the ${scope} scope`);
  }
}
