import { alertPercentsFor, METRICS, planById } from "@/server/billing/catalogue";
import { api } from "@/trpc/server";

import { DataTable } from "../../_components/data-table";
import { MetricName } from "../../_components/metric-name";
import { formatAmount, metricLabel } from "../../_lib/metric-display";
import { AddAlertThresholdForm, RemoveAlertThresholdButton } from "./alert-threshold-actions";

/**
 * The org page's "Alert thresholds" section (issue #12): the plan's percents per metric (from
 * the catalogue, what every org on the plan gets) and the org's own thresholds, which add to
 * them. Admins add and remove the org's own; everyone else reads.
 */
export async function AlertThresholdsSection({ orgId, planId, isAdmin }: { orgId: string; planId: string; isAdmin: boolean }) {
  const thresholds = await api.billing.alertThresholds.list({ orgId });
  // A plan no longer in the catalogue has no defaults this deploy knows of.
  const plan = planById(planId);
  const describe = (t: (typeof thresholds)[number]) =>
    t.kind === "percent" ? `${t.value.toString()} % of the limit` : `at ${formatAmount(t.metric, t.value)}`;

  return (
    <section aria-labelledby="thresholds-title">
      <h2 id="thresholds-title">Alert thresholds</h2>
      <p className="muted">
        A usage.threshold_crossed event fires when usage reaches a threshold. The plan&apos;s percents apply to every org on it; this
        org&apos;s own thresholds add to them.
      </p>
      <h3>Plan defaults</h3>
      {plan ? (
        <DataTable label="Plan alert thresholds">
          <thead>
            <tr>
              <th scope="col">Metric</th>
              <th scope="col">Percent of the limit</th>
            </tr>
          </thead>
          <tbody>
            {METRICS.map((m) => (
              <tr key={m} data-metric={m}>
                <td>{metricLabel(m)}</td>
                <td>
                  {alertPercentsFor(plan, m)
                    .map((p) => `${p} %`)
                    .join(", ")}
                </td>
              </tr>
            ))}
          </tbody>
        </DataTable>
      ) : (
        <p className="muted">This org&apos;s plan is not in this deploy&apos;s catalogue.</p>
      )}
      <h3>This organization&apos;s thresholds</h3>
      {thresholds.length === 0 ? (
        <p className="muted">No thresholds of its own.</p>
      ) : (
        <DataTable label="Organization alert thresholds">
          <thead>
            <tr>
              <th scope="col">Metric</th>
              <th scope="col">Threshold</th>
              <th scope="col">By</th>
              {isAdmin ? (
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              ) : null}
            </tr>
          </thead>
          <tbody>
            {thresholds.map((t) => (
              <tr key={t.id}>
                <td>
                  <MetricName metric={t.metric} />
                </td>
                <td>{describe(t)}</td>
                <td>{t.createdBy}</td>
                {isAdmin ? (
                  <td>
                    <RemoveAlertThresholdButton id={t.id} description={`${metricLabel(t.metric)} ${describe(t)}`} />
                  </td>
                ) : null}
              </tr>
            ))}
          </tbody>
        </DataTable>
      )}
      {isAdmin ? <AddAlertThresholdForm orgId={orgId} /> : null}
    </section>
  );
}
