/**
 * A UUID as text, any case: the one pattern for telling an id from other text (a search
 * term, a URL segment) before it reaches a uuid column. `UUID_PATTERN` matches a whole
 * string; `UUID_SOURCE` is for composing larger patterns. No dependencies: pages and client
 * components use it too.
 */
export const UUID_SOURCE = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
export const UUID_PATTERN = new RegExp(`^${UUID_SOURCE}$`, "i");
