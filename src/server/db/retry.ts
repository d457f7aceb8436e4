import { PG, pgError } from "./pg-errors";

/**
 * SQLSTATEs after which PostgreSQL has rolled the whole transaction back and running it
 * again is safe and may succeed: it chose this transaction as a deadlock's victim, or could
 * not serialize it, or a lock was not available in time.
 */
const TRANSIENT = new Set<string>([PG.deadlockDetected, PG.serializationFailure, PG.lockNotAvailable]);

export function isTransient(error: unknown): boolean {
  const code = pgError(error)?.code;
  return code !== undefined && TRANSIENT.has(code);
}

/**
 * Runs `work` (a whole transaction or a single autocommit statement, never a piece of a
 * caller's transaction: that one is aborted) again after a transient failure, with a short
 * growing, jittered pause, up to `attempts` times in all. `retryable` may widen what counts
 * as transient (a failure the caller knows a fresh run resolves).
 */
export async function retryTransient<T>(
  work: () => Promise<T>,
  attempts = 5,
  retryable: (error: unknown) => boolean = isTransient,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (attempt >= attempts || !retryable(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 5 * attempt + Math.random() * 20));
    }
  }
}
