import { z } from "zod";

import { parseTrustedProxies } from "./http/client-ip";

// Validated once, at the first call; a bad value stops the process with one clear line
// (see `exitOnInvalidEnv`), never a stack trace.
const postgresUrl = z.url({ protocol: /^postgres(ql)?$/, error: "must be a postgresql:// URL" }).optional();

const keyList = z
  .string()
  .optional()
  .transform((v) =>
    (v ?? "")
      .split(",")
      .map((k) => k.trim())
      .filter(Boolean),
  );

export const envSchema = z.object({
  DATABASE_URL: z.preprocess((v) => (v === "" ? undefined : v), postgresUrl),
  PORT: z.coerce.number().int().min(1).max(65535).default(3000),
  DODO_PAYMENTS_API_KEY: z.string().optional(),
  DODO_PAYMENTS_WEBHOOK_KEY: keyList,
  DODO_PAYMENTS_BASE_URL: z.preprocess((v) => (v === "" ? undefined : v), z.url().optional()),
  /**
   * How often the web server reports usage to Dodo; 0 turns it off (off anyway without an API
   * key). At most 15 minutes: rows expire after Dodo's 1-hour window.
   */
  USAGE_REPORT_INTERVAL_SECONDS: z.coerce.number().int().min(0).max(900).default(30),
  /**
   * How often the web server folds new ledger rows into the rollups the dashboard reads
   * (src/server/billing/rollup); 0 turns it off (pages still fold before they read).
   */
  ROLLUP_FOLD_INTERVAL_SECONDS: z.coerce.number().int().min(0).max(3600).default(10),
  /**
   * How often the web server delivers outgoing events (src/server/billing/events): fans new
   * events out to the webhook endpoints and sends what is due; 0 turns it off
   * (`npm run deliver-events` still delivers).
   */
  EVENTS_DELIVERY_INTERVAL_SECONDS: z.coerce.number().int().min(0).max(3600).default(5),
  /** Per-request timeout of an outgoing event delivery, whole answer included. */
  EVENTS_DELIVERY_TIMEOUT_SECONDS: z.coerce.number().int().min(1).max(60).default(10),
  /**
   * Attempts before the web server's deliverer gives a delivery up as failed (1–9; 9, the full
   * schedule of retry-schedule.ts, by default). The e2e server sets 1, to replay a dead letter.
   */
  EVENTS_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(9).default(9),
  /**
   * 1: webhook endpoints may be loopback, private, link-local or CGNAT addresses (tests and the
   * local demo deliver to 127.0.0.1). Off by default: such URLs are refused when saved and at
   * send time (src/server/billing/events/url-safety.ts).
   */
  EVENTS_ALLOW_PRIVATE_URLS: z.preprocess((v) => (v === "" ? undefined : v), z.stringbool().default(false)),
  /**
   * 1: the product API's API-key calls go through Next's route handler like every other
   * request, instead of the lean node:http path in front of it (src/server/api/product-api-http.ts).
   * For comparing the two (`npm run bench`) or ruling the lean path out; off by default.
   */
  BILLING_API_VIA_NEXT: z.preprocess((v) => (v === "" ? undefined : v), z.stringbool().default(false)),
  /**
   * Reverse proxies in front of the dashboard (IPs or CIDR ranges, comma-separated) whose
   * `X-Forwarded-For` hops are believed; none by default: the client is the socket's peer and
   * `X-Forwarded-For` is ignored (see src/server/http/client-ip.ts).
   */
  TRUSTED_PROXIES: z
    .string()
    .optional()
    .transform((value, ctx) => {
      try {
        return parseTrustedProxies(value);
      } catch (error) {
        ctx.addIssue({ code: "custom", message: (error as Error).message });
        return z.NEVER;
      }
    }),
});

export type Env = z.infer<typeof envSchema>;

export class InvalidEnvError extends Error {
  constructor(readonly line: string) {
    super(line);
    this.name = "InvalidEnvError";
  }
}

export function parseEnv(source: Record<string, string | undefined> = process.env): Env {
  const result = envSchema.safeParse(source);
  if (!result.success) {
    const issue = result.error.issues[0];
    const name = issue?.path.join(".") ?? "environment";
    throw new InvalidEnvError(`Invalid environment: ${name} ${issue?.message ?? "is invalid"}`);
  }
  return result.data;
}

let cached: Env | undefined;
export function env(): Env {
  cached ??= parseEnv();
  return cached;
}

/** For command-line entry points: print the one line and exit 1. */
export function exitOnInvalidEnv(): Env {
  try {
    return env();
  } catch (error) {
    if (error instanceof InvalidEnvError) {
      console.error(error.line);
      process.exit(1);
    }
    throw error;
  }
}
