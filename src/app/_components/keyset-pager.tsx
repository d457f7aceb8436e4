import Link from "next/link";

/**
 * The links under a keyset-paged list: back to the first page (when on a later one) and on
 * to the next (when there is one). Keyset pages have no numbers and no "previous".
 */
export function KeysetPager({
  label,
  firstHref,
  firstLabel = "Newest",
  nextHref,
  nextLabel,
}: {
  label: string;
  /** Null on the first page. */
  firstHref: string | null;
  firstLabel?: string;
  /** Null on the last page. */
  nextHref: string | null;
  nextLabel: string;
}) {
  return (
    <nav aria-label={label} className="pagination">
      {firstHref ? <Link href={firstHref}>{firstLabel}</Link> : <span />}
      {nextHref ? <Link href={nextHref}>{nextLabel}</Link> : null}
    </nav>
  );
}
