import Link from "next/link";
import type { ReactNode } from "react";

/**
 * Every list page's filters: a GET form (the filter lives in the URL, so a filtered view can
 * be linked and reloaded), its fields in a row, one primary submit button and, when a filter
 * is set, a secondary "Clear filters" link back to the unfiltered page. `data-ui` marks the
 * form and its button for the e2e check that keeps the list pages alike; lint refuses a
 * `role="search"` form outside this file.
 */
export function FilterForm({
  action,
  label,
  submitLabel = "Filter",
  clearHref,
  children,
}: {
  /** The page the form submits to (its path, without a query). */
  action: string;
  /** The form's accessible name, e.g. "Ledger filters". */
  label: string;
  submitLabel?: string;
  /** Where "Clear filters" leads; null when no filter is set (the link is then not shown). */
  clearHref?: string | null;
  /** The fields (`<div className="field">` with a label and an input or select). */
  children: ReactNode;
}) {
  return (
    <form role="search" method="get" action={action} className="filters" aria-label={label} data-ui="filter-form">
      {children}
      <button type="submit" className="button" data-ui="filter-submit">
        {submitLabel}
      </button>
      {clearHref ? (
        <Link href={clearHref} className="button button-secondary">
          Clear filters
        </Link>
      ) : null}
    </form>
  );
}
