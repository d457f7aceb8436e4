/**
 * Building the links of the pages: the query string of the parameters that are set, so a
 * link carries a filter (and a page cursor) without empty `?org=&metric=` noise.
 */

export type QueryValues = Record<string, string | number | null | undefined>;

/**
 * `key=value&…` of the set values (empty, null and undefined are left out), URL-encoded; the
 * later objects win, so `queryString(filter, { after })` is the filter moved to another page.
 */
export function queryString(...values: QueryValues[]): string {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(Object.assign({}, ...values) as QueryValues)) {
    if (value !== undefined && value !== null && value !== "") query.set(key, String(value));
  }
  return query.toString();
}

/** `path?query`, or just `path` when no value is set. */
export function withQuery(path: string, ...values: QueryValues[]): string {
  const query = queryString(...values);
  return query ? `${path}?${query}` : path;
}
