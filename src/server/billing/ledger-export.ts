import { Readable, Transform, type TransformCallback } from "node:stream";

import type pg from "pg";
import { to as copyTo } from "pg-copy-streams";

import type { Prisma } from "@/server/db/client";

import { ledgerWhereClause, type LedgerFilter } from "./ledger-history";

/**
 * The ledger as CSV at the database's own speed: `COPY (SELECT …) TO STDOUT (FORMAT csv)`
 * streamed to the response, no row ever becoming a JavaScript object. One statement, so one
 * snapshot for the whole download. The output is the one encoder's (./csv.ts) byte for byte:
 * the same columns and header, RFC 4180 quoting, CRLF between records, a text cell that a
 * spreadsheet would run as a formula prefixed with `'` (done in SQL, with csv-stringify's
 * list of leading characters), deltas as bare integers, empty text as an empty field.
 */

export const CSV_COLUMNS = [
  "timestamp_utc",
  "id",
  "org_id",
  "org_name",
  "metric",
  "delta",
  "reason",
  "actor",
  "idempotency_key",
  "metadata",
];

/** csv-stringify's `escape_formulas` leading characters (ASCII and their full-width forms). */
const FORMULA_STARTS = ["=", "+", "-", "@", "\t", "\r", "\uFF1D", "\uFF0B", "\uFF0D", "\uFF20"];
const formulaStarts = FORMULA_STARTS.map((c) => `'${c}'`).join(", ");

/** A text column as the encoder writes it: formula-neutralised, '' written like NULL. */
const text = (expression: string, name: string) =>
  `NULLIF(CASE WHEN left(${expression}, 1) IN (${formulaStarts}) THEN '''' || ${expression} ELSE ${expression} END, '') AS ${name}`;

const SELECT_LIST = [
  `to_char(l.timestamp AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS timestamp_utc`,
  `l.id AS id`,
  `l.org_id AS org_id`,
  text("o.name", "org_name"),
  text("l.metric", "metric"),
  `l.delta AS delta`,
  text("l.reason", "reason"),
  text("l.actor", "actor"),
  text("l.idempotency_key", "idempotency_key"),
  text("l.metadata::text", "metadata"),
].join(", ");

/**
 * COPY takes no bind parameters: the filter's values are written into the statement as
 * literals, each through the driver's own quoting (`escapeLiteral`), never by hand.
 */
function inlineParameters(sql: Prisma.Sql, client: pg.ClientBase): string {
  return sql.text.replace(/\$(\d+)/g, (_, n: string) => {
    const value: unknown = sql.values[Number(n) - 1];
    return client.escapeLiteral(value instanceof Date ? value.toISOString() : String(value));
  });
}

/**
 * The export's one statement, the filter's values inlined: also what `npm run bench` runs
 * bare (`COPY … TO STDOUT`, the same rows and columns) to measure the export against.
 */
export function ledgerCopyStatement(filter: LedgerFilter, client: pg.ClientBase): string {
  const where = inlineParameters(ledgerWhereClause(filter), client);
  return `COPY (SELECT ${SELECT_LIST} FROM usage_ledger l JOIN organizations o ON o.id = l.org_id ${where} ORDER BY l.timestamp, l.id) TO STDOUT WITH (FORMAT csv, HEADER)`;
}

export function ledgerCsvStream(pool: pg.Pool, filter: LedgerFilter): ReadableStream<Uint8Array> {
  let client: pg.PoolClient | undefined;
  const release = (error?: Error) => {
    client?.release(error);
    client = undefined;
  };
  const body = new CrlfRecords();
  void pool.connect().then(
    (connected) => {
      client = connected;
      const copy = connected.query(copyTo(ledgerCopyStatement(filter, connected)));
      copy.on("error", (error: Error) => {
        release(error);
        body.destroy(error);
      });
      copy.on("end", () => release());
      copy.pipe(body);
    },
    (error: Error) => body.destroy(error),
  );
  body.on("close", () => {
    // A download cancelled half-way: the connection is in the middle of a COPY, so it is
    // closed rather than handed back to the pool.
    if (client) release(new Error("ledger export cancelled"));
  });
  return Readable.toWeb(body) as ReadableStream<Uint8Array>;
}

/**
 * COPY ends records with LF; the encoder (and RFC 4180) with CRLF. A quote-aware pass: a LF
 * inside a quoted field (metadata with a newline) stays as it is, one between records
 * becomes CRLF. Quotes inside fields are doubled, so counting them tells inside from out.
 */
class CrlfRecords extends Transform {
  private quoted = false;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    const out: Buffer[] = [];
    let from = 0;
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i];
      if (byte === 0x22) this.quoted = !this.quoted;
      else if (byte === 0x0a && !this.quoted) {
        out.push(chunk.subarray(from, i), CRLF);
        from = i + 1;
      }
    }
    out.push(chunk.subarray(from));
    done(null, Buffer.concat(out));
  }
}

const CRLF = Buffer.from("\r\n");
