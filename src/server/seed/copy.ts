import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

import type pg from "pg";
import { from as copyFrom } from "pg-copy-streams";

/**
 * `COPY table (columns) FROM STDIN` in PostgreSQL's text format, fed from blocks of
 * already-formatted rows (tab-separated fields, each row ending in a newline). Small blocks
 * are joined into chunks of about 256 KiB, so a batch is a few dozen socket writes rather
 * than one per row, and the stream's back-pressure keeps memory flat.
 *
 * The seed's values (UUIDs, numbers, ISO timestamps, JSON of numbers and digit strings,
 * ASCII words from ./vocabulary) never contain a tab, newline or backslash, so the
 * formatters need no escaping.
 */
export async function copyBlocks(
  client: pg.PoolClient,
  table: string,
  columns: readonly string[],
  blocks: readonly string[],
): Promise<void> {
  const sql = `COPY ${table} (${columns.map((c) => `"${c}"`).join(", ")}) FROM STDIN`;
  await pipeline(Readable.from(chunks(blocks)), client.query(copyFrom(sql)));
}

const CHUNK_CHARS = 256 * 1024;

function* chunks(blocks: readonly string[]): Generator<string> {
  let parts: string[] = [];
  let size = 0;
  for (const block of blocks) {
    parts.push(block);
    size += block.length;
    if (size >= CHUNK_CHARS) {
      yield parts.join("");
      parts = [];
      size = 0;
    }
  }
  if (parts.length > 0) yield parts.join("");
}

const DAY = 86_400_000;
const TWO_DIGITS = Array.from({ length: 60 }, (_, n) => String(n).padStart(2, "0"));
const THREE_DIGITS = Array.from({ length: 1000 }, (_, n) => String(n).padStart(3, "0"));
const dayPrefixes = new Map<number, string>();

/**
 * A timestamptz field: ISO 8601 in UTC, e.g. 2025-03-09T02:12:39.447Z, exactly what
 * Date#toISOString gives. Formatted by hand because it runs for every row (over a million
 * for a large seed) and toISOString costs about a microsecond each; the date part comes
 * from a small per-day cache (seed timestamps span a few hundred days).
 */
export function timestamp(epochMs: number): string {
  const day = Math.floor(epochMs / DAY);
  let prefix = dayPrefixes.get(day);
  if (prefix === undefined) {
    prefix = new Date(day * DAY).toISOString().slice(0, 11);
    dayPrefixes.set(day, prefix);
  }
  let rest = epochMs - day * DAY;
  const hours = Math.floor(rest / 3_600_000);
  rest -= hours * 3_600_000;
  const minutes = Math.floor(rest / 60_000);
  rest -= minutes * 60_000;
  const seconds = Math.floor(rest / 1000);
  const millis = rest - seconds * 1000;
  return `${prefix}${TWO_DIGITS[hours]}:${TWO_DIGITS[minutes]}:${TWO_DIGITS[seconds]}.${THREE_DIGITS[millis]}Z`;
}
