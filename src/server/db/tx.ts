import type { Prisma, PrismaClient } from "@/generated/prisma/client";

/** A Prisma interactive-transaction client: services accept one to join a caller's transaction. */
export type Tx = Prisma.TransactionClient;

/** Either the root client or a transaction client; what read paths accept. */
export type Db = PrismaClient | Tx;

/**
 * Run `work` in the caller's transaction when given one, else in a new transaction.
 * Keeps every service write atomic without each service re-implementing the choice.
 */
export async function inTransaction<T>(
  client: PrismaClient,
  tx: Tx | undefined,
  work: (tx: Tx) => Promise<T>,
): Promise<T> {
  if (tx) return work(tx);
  return client.$transaction(work);
}
