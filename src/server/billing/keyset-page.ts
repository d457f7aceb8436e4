import { z } from "zod";

/**
 * Keyset pagination, the one way the staff lists page (ledger, webhook events, unsent outbox
 * rows, backfill runs and diffs, audit log): ORDER BY a unique key, WHERE the key is past the
 * cursor, LIMIT one row more than the page. The extra row only tells whether another page
 * follows, so there is no count and no OFFSET: page 10 000 costs what page 1 costs, and rows
 * written meanwhile never shift a page.
 *
 * The cursor convention: a cursor is the sort key of the last row shown, as a typed object
 * (`{ timestamp, id }`, `{ orgId, metric }`…) described by a zod schema exported next to its
 * list function. tRPC carries it as is (superjson keeps its Dates); each page chooses how it
 * travels in its URL.
 */

export interface KeysetPage<Item, Cursor> {
  items: Item[];
  /** Pass back as `cursor` for the next page; null on the last page. */
  nextCursor: Cursor | null;
}

/** How many rows to fetch for a page of `limit`: one more, to learn whether another page follows. */
export const keysetTake = (limit: number): number => limit + 1;

/**
 * The page out of rows fetched with `LIMIT keysetTake(limit)`: the first `limit` rows, and the
 * cursor of the last of them when a further row showed there is more.
 */
export function keysetPage<Row, Cursor>(rows: readonly Row[], limit: number, cursorOf: (last: Row) => Cursor): KeysetPage<Row, Cursor> {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return { items, nextCursor: rows.length > limit && last !== undefined ? cursorOf(last) : null };
}

/**
 * A requested page size brought into 1…`max` (`fallback` when absent), for list functions a
 * direct caller (a script, a test) reaches without the router's input schema.
 */
export const pageLimit = (requested: number | undefined, fallback: number, max: number): number =>
  Math.min(Math.max(requested ?? fallback, 1), max);

/** The output schema of a keyset page of `item`s. */
export const keysetPageSchema = <Item extends z.ZodType, Cursor extends z.ZodType>(item: Item, cursor: Cursor) =>
  z.object({ items: z.array(item), nextCursor: cursor.nullable() });
