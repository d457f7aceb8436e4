import { UUID_SOURCE } from "@/server/billing/uuid";

import { firstParam } from "./search-params";

/**
 * A keyset cursor in a page URL (`?after=…`). The lists ordered newest first on (a time, a
 * UUID) share one form, `<ISO instant>_<uuid>`: readable in a shared link, and unambiguous as
 * an ISO instant holds no `_`. The URL is user input: a malformed value reads as no cursor
 * (the newest page), never an error.
 */

type InstantIdCursor<At extends string, Id extends string> = { [K in At]: Date } & { [K in Id]: string };

const INSTANT_ID = new RegExp(`^(.+)_(${UUID_SOURCE})$`, "i");

/** The URL form of a cursor whose instant is the field `at` and whose UUID is the field `id`. */
export function instantIdCursorParam<At extends string, Id extends string>(at: At, id: Id) {
  return {
    read(value: string | string[] | undefined): InstantIdCursor<At, Id> | undefined {
      const match = firstParam(value)?.match(INSTANT_ID);
      if (!match) return undefined;
      const instant = new Date(match[1] as string);
      if (Number.isNaN(instant.getTime())) return undefined;
      return { [at]: instant, [id]: (match[2] as string).toLowerCase() } as InstantIdCursor<At, Id>;
    },
    write(cursor: InstantIdCursor<At, Id>): string {
      const instant: Date = cursor[at];
      const uuid: string = cursor[id];
      return `${instant.toISOString()}_${uuid}`;
    },
  };
}
