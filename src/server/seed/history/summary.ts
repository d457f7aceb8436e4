import type { HistoryResult } from "./index";

/** The history in one line, for `npm start` and `npm run seed -- --history`. */
export function describeHistory(result: HistoryResult): string {
  const n = (value: number) => value.toLocaleString("en-US");
  const webhooks = Object.values(result.webhooks).reduce((sum, count) => sum + count, 0);
  const day = (at: Date) => at.toISOString().slice(0, 10);
  return (
    `History: ${result.days} days (${day(result.start)} to ${result.anchor.toISOString().slice(0, 16)}Z) for ${n(result.orgs)} ` +
    `organizations: ${n(result.usageRows)} usage rows in bulk, ${n(result.consumes)} usage consumes ` +
    `(${n(result.refusedConsumes)} refused), ${n(result.gaugeEvents)} member, team and file changes, ${n(webhooks)} signed ` +
    `webhooks (${n(result.webhooks["subscription.renewed"] ?? 0)} renewals), ${n(result.scenarios.length)} plan changes, lapses ` +
    `and cancellations, in ${(result.elapsedMs / 1000).toFixed(1)} s.`
  );
}
