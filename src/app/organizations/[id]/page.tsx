import { TRPCError } from "@trpc/server";
import type { Metadata } from "next";
import Link from "next/link";
import { notFound } from "next/navigation";

import { roleAtLeast } from "@/server/auth";
import { UUID_PATTERN } from "@/server/billing/uuid";
import { api, currentStaff } from "@/trpc/server";

import { DataTable } from "../../_components/data-table";
import { DenialsTable } from "../../_components/denials-table";
import { KeysetPager } from "../../_components/keyset-pager";
import { MetricName } from "../../_components/metric-name";
import { UsageBar } from "../../_components/usage-bar";
import { UtcTime } from "../../_components/utc-time";
import { formatDate, formatDuration, formatStatus, formatUtc } from "../../_lib/format";
import { chartUnitOf, formatAmount, formatSignedAmount, metricLabel } from "../../_lib/metric-display";
import { withQuery } from "../../_lib/query-string";
import { cursorParam, readCursor } from "../../ledger/filters";
import { AdjustUsageForm, RevokeOverrideButton, SetOverrideForm } from "./admin-actions";
import { AlertThresholdsSection } from "./alert-thresholds";
import { SubscriptionPanel } from "./subscription-panel";
import { UsageChart, type ChartSeries } from "./usage-chart";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Organization" };

const LEDGER_PAGE = 50;

type Params = Promise<{ id: string }>;
type SearchParams = Promise<Record<string, string | string[] | undefined>>;

const utc = (d: Date) => `${formatUtc(d)} UTC`;

async function load(orgId: string) {
  try {
    return await api.billing.orgs.get({ orgId });
  } catch (error) {
    if (error instanceof TRPCError && error.code === "NOT_FOUND") return null;
    throw error;
  }
}

export default async function OrganizationPage({ params, searchParams }: { params: Params; searchParams: SearchParams }) {
  const { id } = await params;
  if (!UUID_PATTERN.test(id)) notFound();
  const query = await searchParams;
  const cursor = readCursor(query.after);
  const [detail, ledger, session] = await Promise.all([
    load(id.toLowerCase()),
    api.billing.ledger.list({ filter: { orgId: id.toLowerCase() }, cursor, limit: LEDGER_PAGE }),
    currentStaff(),
  ]);
  if (!detail) notFound();
  const isAdmin = roleAtLeast(session?.user.role, "admin");
  const { org, subscription, usage, overrides, denials } = detail;
  const windows = new Map(detail.windows.map((w) => [w.metric as string, w]));
  // The newest active override per metric is the one that applies.
  const applied = new Map<string, (typeof overrides)[number]>();
  for (const o of overrides) if (!applied.has(o.metric)) applied.set(o.metric, o);

  const charts: ChartSeries[] = detail.series.map((s) => {
    const m = usage.metrics.find((x) => x.metric === s.metric);
    return {
      metric: s.metric,
      label: metricLabel(s.metric),
      unit: chartUnitOf(s.metric),
      limit: m?.limit === null || m?.limit === undefined ? null : Number(m.limit),
      points: s.points.map((p) => ({ day: p.day, count: Number(p.count) })),
    };
  });

  return (
    <>
      <p className="muted">
        <Link href="/organizations">← Organizations</Link>
      </p>
      <h1>{org.name}</h1>
      <dl className="facts" aria-label="Organization">
        <div>
          <dt>Slug</dt>
          <dd>
            <code>{org.slug}</code>
          </dd>
        </div>
        <div>
          <dt>Id</dt>
          <dd>
            <code data-testid="org-id">{org.id}</code>
          </dd>
        </div>
        <div>
          <dt>Plan</dt>
          <dd>
            <span className={`plan plan-${detail.plan.id}`}>{detail.plan.name}</span>
          </dd>
        </div>
        <div>
          <dt>Subscription</dt>
          <dd>
            {subscription ? (
              <span className={`status status-${subscription.status}`}>{formatStatus(subscription.status)}</span>
            ) : (
              <span className="muted">No subscription</span>
            )}
          </dd>
        </div>
        <div>
          <dt>Period end</dt>
          <dd>
            {subscription?.currentPeriodEnd ? formatDate(subscription.currentPeriodEnd) : <span className="muted">—</span>}
            {subscription?.cancelAtPeriodEnd ? <span className="muted"> (cancels then)</span> : null}
          </dd>
        </div>
      </dl>

      <SubscriptionPanel orgId={org.id} isAdmin={isAdmin} />

      <section aria-labelledby="usage-title">
        <h2 id="usage-title">Usage and limits</h2>
        <div className="usage-grid">
          {usage.metrics.map((m) => {
            const label = metricLabel(m.metric);
            const override = m.limitOverridden ? applied.get(m.metric) : undefined;
            const over = m.limit !== null && m.count > m.limit;
            const window = windows.get(m.metric);
            return (
              <section key={m.metric} className="usage-card" aria-label={label} data-metric={m.metric}>
                <h3>
                  {label}{" "}
                  {m.limitKind === "unlimited" ? null : <span className={`limit-kind limit-${m.limitKind}`}>{m.limitKind} limit</span>}
                  {override ? (
                    <span className="badge badge-override" title={override.note}>
                      override
                    </span>
                  ) : null}
                </h3>
                <p className="usage-numbers">
                  <span data-testid="usage-used">{formatAmount(m.metric, m.count)}</span>
                  {" / "}
                  <span data-testid="usage-limit">{m.limit === null ? "unlimited" : formatAmount(m.metric, m.limit)}</span>
                  {m.remaining !== null ? <span className="muted"> · {formatAmount(m.metric, m.remaining)} remaining</span> : null}
                </p>
                <UsageBar metric={m.metric} count={m.count} limit={m.limit} limitKind={m.limitKind} label={label} />
                {over ? <p className="over-limit">Over the {m.limitKind} limit</p> : null}
                {window ? (
                  <p className="muted usage-window" data-testid="usage-window">
                    Window <UtcTime value={window.start} /> → <UtcTime value={window.end} /> UTC ·{" "}
                    <span data-testid="usage-resets">resets in {formatDuration(window.resetsInSeconds)}</span>
                  </p>
                ) : null}
                {override ? (
                  <p className="muted override-note">
                    Override: {override.note}
                    {override.expiresAt ? ` · expires ${utc(override.expiresAt)}` : " · no expiry"} · by {override.createdBy}
                  </p>
                ) : null}
              </section>
            );
          })}
          {detail.uncatalogued.map((u) => (
            <section key={u.metric} className="usage-card" aria-label={u.metric} data-metric={u.metric}>
              <h3>
                {u.metric} <span className="badge">not in the catalogue</span>
              </h3>
              <p className="usage-numbers">
                <span data-testid="usage-used">{formatAmount(u.metric, u.count)}</span>
              </p>
              <p className="muted">This deploy&apos;s metric catalogue does not know this metric: no limit or window applies to it here.</p>
            </section>
          ))}
        </div>
      </section>

      {isAdmin ? (
        <section aria-labelledby="admin-title" className="admin-actions">
          <h2 id="admin-title">Admin actions</h2>
          <AdjustUsageForm orgId={org.id} />
          <SetOverrideForm orgId={org.id} />
          <h3>Active overrides</h3>
          {overrides.length === 0 ? (
            <p className="muted">No active overrides.</p>
          ) : (
            <DataTable label="Active overrides">
              <thead>
                <tr>
                  <th scope="col">Metric</th>
                  <th scope="col">Limit</th>
                  <th scope="col">Expires</th>
                  <th scope="col">Note</th>
                  <th scope="col">By</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {overrides.map((o) => (
                  <tr key={o.id}>
                    <td>
                      <MetricName metric={o.metric} />
                    </td>
                    <td>{o.kind === "unlimited" || o.value === null ? "unlimited" : `${o.kind} ${formatAmount(o.metric, o.value)}`}</td>
                    <td>{o.expiresAt ? utc(o.expiresAt) : "never"}</td>
                    <td>{o.note}</td>
                    <td>{o.createdBy}</td>
                    <td>
                      <RevokeOverrideButton id={o.id} metric={o.metric} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </DataTable>
          )}
        </section>
      ) : null}

      <AlertThresholdsSection orgId={org.id} planId={detail.plan.id} isAdmin={isAdmin} />

      <section aria-labelledby="charts-title">
        <h2 id="charts-title">Usage over the last 90 days</h2>
        <div className="chart-grid">
          {charts.map((c) => (
            <UsageChart key={c.metric} series={c} />
          ))}
        </div>
      </section>

      <section aria-labelledby="history-title">
        <h2 id="history-title">Ledger history</h2>
        <p>
          <Link href={`/ledger?org=${org.id}`}>Open in the ledger (filters, totals, export)</Link>
        </p>
        {ledger.items.length === 0 ? (
          <p className="muted">{cursor ? "No older entries." : "No ledger entries for this organization yet."}</p>
        ) : (
          <DataTable label="Ledger history">
            <thead>
              <tr>
                <th scope="col">Time (UTC)</th>
                <th scope="col">Metric</th>
                <th scope="col" className="num">
                  Delta
                </th>
                <th scope="col">Reason</th>
                <th scope="col">Actor</th>
                <th scope="col">Note</th>
              </tr>
            </thead>
            <tbody>
              {ledger.items.map((e) => {
                const note = (e.metadata as { note?: unknown } | null)?.note;
                return (
                  <tr key={e.id}>
                    <td>
                      <UtcTime value={e.timestamp} precision="millisecond" />
                    </td>
                    <td>
                      <MetricName metric={e.metric} />
                    </td>
                    <td className="num">{formatSignedAmount(e.metric, e.delta)}</td>
                    <td>{e.reason}</td>
                    <td>{e.actor}</td>
                    <td>{typeof note === "string" ? note : ""}</td>
                  </tr>
                );
              })}
            </tbody>
          </DataTable>
        )}
        <KeysetPager
          label="Ledger history pages"
          firstHref={cursor ? `/organizations/${org.id}` : null}
          nextHref={ledger.nextCursor ? withQuery(`/organizations/${org.id}`, { after: cursorParam(ledger.nextCursor) }) : null}
          nextLabel="Older →"
        />
      </section>

      <section aria-labelledby="denials-title">
        <h2 id="denials-title">Recent denials</h2>
        {denials.length === 0 ? (
          <p className="muted">No denials recorded for this organization.</p>
        ) : (
          <DenialsTable denials={denials} showOrg={false} />
        )}
      </section>
    </>
  );
}
