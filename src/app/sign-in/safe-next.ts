/** Only a path on this site (never `//host`, `/\host` or `https://…`), else the overview. */
export function safeNext(next: string | undefined | null): string {
  return next && next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/\\") ? next : "/";
}
