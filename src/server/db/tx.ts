import type { Prisma, PrismaClient } from "@/generated/prisma/client";

/** A Prisma interactive-transaction client: services accept one to join a caller's transaction. */
export type Tx = Prisma.TransactionClient;

/** Either the root client or a transaction client; what read paths accept. */
export type Db = PrismaClient | Tx;

/** Prisma interactive-transaction limits: waiting for a connection, and the whole transaction. */
export interface TransactionOptions {
  maxWait?: number;
  timeout?: number;
}

/**
 * Run `work` in the caller's transaction when given one, else in a new transaction (with
 * `options`, else the client's default limits). Keeps every service write atomic without
 * each service re-implementing the choice.
 */
export async function inTransaction<T>(
  client: PrismaClient,
  tx: Tx | undefined,
  work: (tx: Tx) => Promise<T>,
  options?: TransactionOptions,
): Promise<T> {
  if (tx) return work(tx);
  return client.$transaction(work, options);
}
