import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { open, rename } from "node:fs/promises";
import { Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";

import type pg from "pg";
import { to as copyTo } from "pg-copy-streams";

import { CSV_COLUMNS } from "../ledger-export";

/**
 * A month's partition written out with COPY, streamed to a file: the ledger CSV export's
 * columns and header, values as stored (no spreadsheet-formula prefix: the file is the
 * record, loadable again with COPY … FROM … (FORMAT csv, HEADER)), ordered by (timestamp, id).
 * Written to `<file>.partial`, flushed to disk, then renamed, so `file` is whole or absent.
 */

const ARCHIVE_SELECT = [
  `to_char(l.timestamp AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`,
  "l.id",
  "l.org_id",
  "o.name",
  "l.metric",
  "l.delta",
  "l.reason",
  "l.actor",
  "l.idempotency_key",
  "l.metadata::text",
]
  .map((expression, i) => `${expression} AS ${CSV_COLUMNS[i]}`)
  .join(", ");

export interface ArchiveFile {
  rows: bigint;
  sha256: string;
  bytes: number;
}

export async function copyPartitionToFile(client: pg.ClientBase, partition: string, file: string): Promise<ArchiveFile> {
  const table = `ledger_partitions.${client.escapeIdentifier(partition)}`;
  const copy = client.query(
    copyTo(
      `COPY (SELECT ${ARCHIVE_SELECT} FROM ${table} l LEFT JOIN organizations o ON o.id = l.org_id ORDER BY l.timestamp, l.id) ` +
        "TO STDOUT WITH (FORMAT csv, HEADER)",
    ),
  );
  const hash = createHash("sha256");
  let bytes = 0;
  const digest = new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  const partial = `${file}.partial`;
  await pipeline(copy, digest, createWriteStream(partial));
  const handle = await open(partial, "r+");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(partial, file);
  return { rows: BigInt(copy.rowCount ?? 0), sha256: hash.digest("hex"), bytes };
}
