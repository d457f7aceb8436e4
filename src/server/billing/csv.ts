import { stringify } from "csv-stringify/sync";

/**
 * The one CSV encoder of every export (the ledger download, the backfill diff report on the
 * dashboard and `npm run backfill -- --csv`): RFC 4180 lines (CRLF, a field quoted when it
 * holds a comma, quote, CR or LF, inner quotes doubled).
 *
 * Formula injection (OWASP "CSV Injection"): these files carry text that outsiders choose —
 * idempotency keys, actors, organization names and slugs, metadata — and a spreadsheet runs a
 * cell that starts with `=`, `+`, `-`, `@`, tab or CR as a formula. csv-stringify's
 * `escape_formulas` prefixes such a text cell with `'`, which the spreadsheet shows as text.
 * It leaves a `bigint` or `number` cell alone, so a negative amount stays `-5`: pass every
 * numeric column as a bigint, never as text, or it would be prefixed too.
 */
export type CsvCell = string | bigint | boolean | null | undefined;

const OPTIONS = {
  escape_formulas: true,
  record_delimiter: "windows",
  // Given a record_delimiter, csv-stringify stops quoting a lone \n or \r unless told to.
  quote_record_delimiter: true,
  // `true` / `false`, as the diff report has always written them (csv-stringify's default is 1 / "").
  cast: { boolean: (value: boolean) => String(value) },
} as const;

/** Encodes records (each one line) as CSV text. */
export function csvLines(records: readonly (readonly CsvCell[])[]): string {
  return records.length === 0 ? "" : stringify(records as CsvCell[][], OPTIONS);
}

/** Encodes one record as one CSV line (with its CRLF). */
export function csvLine(fields: readonly CsvCell[]): string {
  return csvLines([fields]);
}

/** A column of BIGINT values read as text (`::text`, so no precision is lost on the way) → bigint. */
export function bigintCell(value: string | null | undefined): bigint | null {
  return value === null || value === undefined || value === "" ? null : BigInt(value);
}
