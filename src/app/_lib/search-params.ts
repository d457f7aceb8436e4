import type { z } from "zod";

/**
 * Reading page filters from the URL. The URL is user input: a bad value becomes a problem
 * shown on the page (and no filter), never an exception.
 */

export type Params = Record<string, string | string[] | undefined>;

/** The first value of a parameter, trimmed; undefined when absent or blank. */
export const firstParam = (value: string | string[] | undefined): string | undefined =>
  (Array.isArray(value) ? value[0] : value)?.trim() || undefined;

/** `YYYY-MM-DD` (a UTC day) or a full ISO timestamp; `to` as a day means the end of that day. */
export function parseInstant(value: string | undefined, endOfDay: boolean): Date | undefined | "invalid" {
  if (!value) return undefined;
  const day = /^\d{4}-\d{2}-\d{2}$/.test(value);
  const date = new Date(day ? `${value}T00:00:00.000Z` : value);
  if (Number.isNaN(date.getTime())) return "invalid";
  return day && endOfDay ? new Date(date.getTime() + 86_400_000) : date;
}

/** One line per zod issue, `path: message`, for the page's problem list. */
export const issueLines = (error: z.ZodError): string[] =>
  error.issues.map((issue) => `${issue.path.join(".") || "filter"}: ${issue.message}`);
