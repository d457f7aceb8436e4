/**
 * The PostgreSQL SQLSTATE behind an error, whichever layer raised it: node-postgres
 * (`code`) or Prisma with the pg driver adapter (P2010 with the driver's original code).
 */
export interface PgErrorInfo {
  code: string;
  constraint?: string;
  message: string;
}

export const PG = {
  uniqueViolation: "23505",
  foreignKeyViolation: "23503",
  checkViolation: "23514",
  /** e.g. "bigint out of range": a count past 2^63-1. */
  numericValueOutOfRange: "22003",
  serializationFailure: "40001",
  deadlockDetected: "40P01",
  lockNotAvailable: "55P03",
} as const;

export function pgError(error: unknown): PgErrorInfo | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const e = error as Record<string, unknown>;
  const cause = (e.meta as { driverAdapterError?: { cause?: Record<string, unknown> } } | undefined)?.driverAdapterError?.cause;
  if (cause && typeof cause.originalCode === "string") {
    const constraint = cause.constraint as { index?: string; fields?: string[] } | undefined;
    return {
      code: cause.originalCode,
      constraint: constraint?.index,
      message: String(cause.originalMessage ?? cause.message ?? ""),
    };
  }
  // node-postgres: a SQLSTATE directly on the error (Prisma's own codes look like P2010).
  if (typeof e.code === "string" && /^[0-9A-Z]{5}$/.test(e.code) && !e.code.startsWith("P")) {
    return { code: e.code, constraint: e.constraint as string | undefined, message: String(e.message) };
  }
  return undefined;
}

/**
 * One line for an error stored in a row (a webhook event's, a reconcile report's): the
 * SQLSTATE and message for database errors, else the last non-empty line of the message.
 */
export function errorLine(error: unknown): string {
  const pg = pgError(error);
  if (pg) return `database error ${pg.code}: ${pg.message}`;
  const message = error instanceof Error ? error.message : String(error);
  return message.trim().split("\n").filter(Boolean).slice(-1)[0] ?? "unknown error";
}

/**
 * A unique index refused the write, whichever layer says so: the SQLSTATE (node-postgres, or
 * Prisma's driver adapter for raw SQL) or Prisma's own P2002 (a model `create` or `update`).
 */
export const isUniqueViolation = (error: unknown): boolean =>
  pgError(error)?.code === PG.uniqueViolation || (error as { code?: unknown } | null)?.code === "P2002";
