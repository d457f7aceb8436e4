/**
 * Pages that exist in the navigation but are built by later issues. One place to update
 * when an issue number is assigned or a page ships.
 */
export const ROADMAP = {
  backfill: "issue #6 (backfill and switchover)",
  dodo: "issue #5 (Dodo Payments)",
} as const;
