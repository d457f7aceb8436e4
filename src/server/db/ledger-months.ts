/**
 * The UTC months whose ledger partitions exist ahead of now, besides the current one: every
 * migrate creates them (migrator.ts) and so does a long-lived server, hourly
 * (billing/ledger-archive/months-ahead.ts). README: "Deploying on a real PostgreSQL", growth.
 */
export const LEDGER_MONTHS_AHEAD = 2;
