import "server-only"; // the API context: the database and the staff session: a client component importing this fails the build

/**
 * The tRPC frame of the billing API: request context, the error contract and the base
 * procedure. Routers under `routers/` are thin adapters over `src/server/billing`.
 *
 * Error contract (see ARCHITECTURE.md):
 * - bad input → BAD_REQUEST with `data.zodIssues: [{ path, message, code }]` and
 *   `data.reason: "invalid_input"`; input the edge refuses before any schema runs
 *   (`input-edge.ts`) → BAD_REQUEST with its own reason (no zodIssues);
 * - a `BillingError` thrown by a service → its own tRPC code (never INTERNAL_SERVER_ERROR)
 *   with `data.reason` = the error's machine-readable reason;
 * - anything else → INTERNAL_SERVER_ERROR, its message hidden in production (logged instead).
 */
import { initTRPC, StandardSchemaV1Error, TRPCError, type TRPC_ERROR_CODE_KEY } from "@trpc/server";
import { ZodError } from "zod";

import { getStaffSession, roleAtLeast, type StaffRole, type StaffSession } from "@/server/auth";
import { billing, createBillingServices, type BillingServices } from "@/server/billing";
import { requireScope, type ApiScope } from "@/server/billing/api-keys";
import { isBillingError, type BillingErrorCode } from "@/server/billing/errors";
import { prisma, type PrismaClient } from "@/server/db/client";

import { serverTransformer } from "./input-edge";

/* ------------------------------------------------------------------------------------------
 * 1. Context
 * ---------------------------------------------------------------------------------------- */

export interface CreateContextOptions {
  headers: Headers;
  /**
   * The Prisma client to use; defaults to the process-wide one from `src/server/db`.
   * Tests pass their own (e.g. one bound to a throw-away database).
   */
  db?: () => PrismaClient;
  /** The domain services; default: the process-wide ones, or ones over `db` when given. */
  billing?: () => BillingServices;
  /** The signed-in member of staff; default: read from `headers` on first use. The RSC caller
   * passes its per-request lookup, so a page and its procedures read the session once. */
  staff?: () => Promise<StaffSession | null>;
}

/**
 * Built once per request (HTTP handler) or per RSC render (`src/trpc/server.ts`).
 * `db` and `billing` are functions, not clients: nothing connects until a procedure asks,
 * so a procedure that needs no database (and `next build`) never opens a connection.
 *
 * The context carries no identity of its own: `apiKeyProcedure` adds the product app's key,
 * `staffProcedure` the signed-in member of staff. `staff()` reads the session from the
 * request's cookies on first call only (then memoised), so API-key calls never look.
 */
export async function createTRPCContext(opts: CreateContextOptions) {
  const db = opts.db ?? prisma;
  let own: BillingServices | undefined;
  const services = opts.billing ?? (opts.db ? () => (own ??= createBillingServices(db())) : billing);
  let session: Promise<StaffSession | null> | undefined;
  return {
    headers: opts.headers,
    db,
    billing: services,
    staff: opts.staff ?? (() => (session ??= getStaffSession(opts.headers, db()))),
  };
}

export type TRPCContext = Awaited<ReturnType<typeof createTRPCContext>>;

/* ------------------------------------------------------------------------------------------
 * 2. Error formatting
 * ---------------------------------------------------------------------------------------- */

export interface ZodIssueData {
  /** Path into the input, e.g. `["events", 3, "amount"]`. */
  path: (string | number)[];
  message: string;
  code: string;
}

/** Issues of a failed input validation (zod, or any Standard Schema validator). */
function validationIssues(cause: unknown): ZodIssueData[] | null {
  if (!(cause instanceof ZodError) && !(cause instanceof StandardSchemaV1Error)) return null;
  return cause.issues.map((issue) => ({
    path: (issue.path ?? []).map((segment) => {
      const key = typeof segment === "object" && segment !== null && "key" in segment ? segment.key : segment;
      return typeof key === "number" ? key : String(key);
    }),
    message: issue.message,
    code: "code" in issue && typeof issue.code === "string" ? issue.code : "invalid",
  }));
}

function describeIssues(issues: ZodIssueData[]): string {
  const parts = issues.slice(0, 5).map((i) => (i.path.length ? `${i.path.join(".")}: ${i.message}` : i.message));
  if (issues.length > 5) parts.push(`and ${issues.length - 5} more`);
  return `Invalid input: ${parts.join("; ")}`;
}

const isProduction = process.env.NODE_ENV === "production";

/** The one mapping from domain error codes to tRPC codes; a new code must be mapped here. */
const BILLING_TO_TRPC: Record<BillingErrorCode, TRPC_ERROR_CODE_KEY> = {
  BAD_REQUEST: "BAD_REQUEST",
  NOT_FOUND: "NOT_FOUND",
  CONFLICT: "CONFLICT",
  UNAUTHORIZED: "UNAUTHORIZED",
  FORBIDDEN: "FORBIDDEN",
  PRECONDITION_FAILED: "PRECONDITION_FAILED",
  TOO_MANY_REQUESTS: "TOO_MANY_REQUESTS",
};

/**
 * Procedure metadata: how a procedure authenticates, so a test can enumerate every procedure
 * with its declared role (`appRouter._def.procedures[path]._def.meta`).
 */
export type ProcedureMeta = { auth: "staff"; minRole: StaffRole } | { auth: "api_key"; scopes: ApiScope[] } | { auth: "public" };

const t = initTRPC
  .context<TRPCContext>()
  .meta<ProcedureMeta>()
  .create({
    transformer: serverTransformer,
    errorFormatter({ shape, error }) {
      const zodIssues = error.code === "BAD_REQUEST" ? validationIssues(error.cause) : null;
      // Every refusal of input has a reason: the domain's own, else `invalid_input` (a schema's,
      // or tRPC's own, e.g. a body that is not JSON).
      const reason = isBillingError(error.cause) ? error.cause.reason : error.code === "BAD_REQUEST" ? "invalid_input" : null;
      let message = shape.message;
      if (zodIssues) message = describeIssues(zodIssues);
      // An unexpected failure's message may carry SQL or internals: log it, don't send it.
      else if (error.code === "INTERNAL_SERVER_ERROR" && isProduction) message = "Internal server error";
      return {
        ...shape,
        message,
        data: {
          ...shape.data,
          zodIssues,
          reason,
        },
      };
    },
  });

/**
 * The HTTP adapters' `onError` (Next's route and the lean path in product-api-http.ts):
 * expected failures (bad input, domain errors) are answers, not incidents; only the rest is logged.
 */
export function logUnexpectedError({ path, error }: { path?: string; error: TRPCError }): void {
  if (error.code === "INTERNAL_SERVER_ERROR") console.error(`[trpc] ${path ?? "<no path>"} failed:`, error.cause ?? error);
}

/* ------------------------------------------------------------------------------------------
 * 3. Routers and procedures
 * ---------------------------------------------------------------------------------------- */

export const createTRPCRouter = t.router;
export const createCallerFactory = t.createCallerFactory;

/**
 * Converts a `BillingError` from a service into a `TRPCError` with the mapped code. This is
 * the one place the conversion happens; services never import tRPC.
 */
const billingErrors = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok && isBillingError(result.error.cause)) {
    const cause = result.error.cause;
    throw new TRPCError({ code: BILLING_TO_TRPC[cause.code], message: cause.message, cause });
  }
  return result;
});

/** The base of every procedure: error mapping; `apiKeyProcedure` and `staffProcedure` add who may call. */
const baseProcedure = t.procedure.use(billingErrors);

/**
 * A product-app procedure: requires `Authorization: Bearer <api key>` holding every scope
 * listed, else UNAUTHORIZED (missing, invalid or revoked key) or FORBIDDEN (scope missing).
 * Adds `ctx.apiKey` and `ctx.actor` (recorded on ledger rows) for the resolver.
 */
export function apiKeyProcedure(...scopes: [ApiScope, ...ApiScope[]]) {
  return baseProcedure.meta({ auth: "api_key", scopes }).use(async ({ ctx, next }) => {
    const apiKey = await ctx.billing().apiKeys.authenticate(ctx.headers.get("authorization"));
    for (const scope of scopes) requireScope(apiKey, scope);
    return next({ ctx: { apiKey, actor: `api_key:${apiKey.name}` } });
  });
}

/**
 * A staff procedure: requires a signed-in member of staff (better-auth session cookie) with
 * at least `minRole`, else UNAUTHORIZED (no or expired session) or FORBIDDEN (role too low).
 * Adds `ctx.staff` (the session's user) and `ctx.actor = "staff:<email>"` (recorded on ledger
 * rows and in the audit log). The role is declared in the procedure's meta, which the
 * authorization-matrix test reads for every procedure under `billing.*`.
 */
export function staffProcedure(minRole: StaffRole) {
  return baseProcedure.meta({ auth: "staff", minRole }).use(async ({ ctx, next }) => {
    const session = await ctx.staff();
    if (!session) throw new TRPCError({ code: "UNAUTHORIZED", message: "Sign in to continue" });
    if (!roleAtLeast(session.user.role, minRole)) {
      throw new TRPCError({ code: "FORBIDDEN", message: `This needs the ${minRole} role; you are ${session.user.role}` });
    }
    return next({ ctx: { staff: session.user, actor: `staff:${session.user.email}` } });
  });
}
