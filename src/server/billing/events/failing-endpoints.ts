import type { Db } from "@/server/db/tx";

/**
 * The Overview's "failing endpoints" card: enabled endpoints whose deliveries failed for good
 * (dead letters) in the last 24 hours, or whose latest attempts in that time all failed (the
 * consecutive failures since the last 2xx). Empty when every endpoint is healthy.
 */
export interface FailingEndpoint {
  id: string;
  url: string;
  /** Deliveries that became `failed` in the last 24 h. */
  deadLetters: number;
  /** Failed attempts since the endpoint's last 2xx (within 24 h). */
  consecutiveFailures: number;
  lastError: string | null;
}

export async function failingEndpoints(db: Db): Promise<FailingEndpoint[]> {
  const rows = await db.$queryRaw<{ id: string; url: string; dead_letters: bigint; consecutive: bigint; last_error: string | null }[]>`
    WITH recent AS (
      SELECT d.endpoint_id, a.attempted_at, a.error, a.response_status,
             (a.response_status BETWEEN 200 AND 299) AS ok
      FROM event_delivery_attempts a JOIN event_deliveries d ON d.id = a.delivery_id
      WHERE a.attempted_at > now() - interval '24 hours'),
    last_ok AS (SELECT endpoint_id, max(attempted_at) AS at FROM recent WHERE ok GROUP BY endpoint_id)
    SELECT w.id::text, w.url,
      (SELECT count(*) FROM event_deliveries d
        WHERE d.endpoint_id = w.id AND d.status = 'failed' AND d.updated_at > now() - interval '24 hours') AS dead_letters,
      (SELECT count(*) FROM recent r LEFT JOIN last_ok l ON l.endpoint_id = r.endpoint_id
        WHERE r.endpoint_id = w.id AND NOT coalesce(r.ok, false) AND (l.at IS NULL OR r.attempted_at > l.at)) AS consecutive,
      (SELECT coalesce(r.error, 'HTTP ' || r.response_status) FROM recent r
        WHERE r.endpoint_id = w.id AND NOT coalesce(r.ok, false) ORDER BY r.attempted_at DESC LIMIT 1) AS last_error
    FROM webhook_endpoints w WHERE w.enabled`;
  return rows
    .map((r) => ({
      id: r.id,
      url: r.url,
      deadLetters: Number(r.dead_letters),
      consecutiveFailures: Number(r.consecutive),
      lastError: r.last_error,
    }))
    .filter((r) => r.deadLetters > 0 || r.consecutiveFailures > 0)
    .sort((a, b) => b.deadLetters - a.deadLetters || b.consecutiveFailures - a.consecutiveFailures);
}
