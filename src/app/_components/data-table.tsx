import type { ReactNode } from "react";

/**
 * Every list table of the dashboard: the bordered, scrollable frame and the table styles of
 * globals.css (`.table-wrap`, `.table`), so no page renders a bare `<table>` (lint refuses
 * one outside this file). `data-ui` marks the component for the e2e check that keeps the
 * list pages alike. Name the table for assistive technology with `label` or `labelledBy`.
 */
export function DataTable({
  label,
  labelledBy,
  caption,
  wrappingHeads = false,
  children,
}: {
  label?: string;
  labelledBy?: string;
  /** A visually hidden caption (e.g. which page of how many). */
  caption?: ReactNode;
  /** Wide numeric tables: headings wrap instead of pushing the last columns out of view. */
  wrappingHeads?: boolean;
  /** The `<thead>` and `<tbody>`. */
  children: ReactNode;
}) {
  return (
    <div className="table-wrap">
      <table
        className={wrappingHeads ? "table table-wrapping-heads" : "table"}
        aria-label={label}
        aria-labelledby={labelledBy}
        data-ui="data-table"
      >
        {caption ? <caption className="visually-hidden">{caption}</caption> : null}
        {children}
      </table>
    </div>
  );
}
