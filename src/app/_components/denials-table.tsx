import Link from "next/link";

import type { Denial } from "@/server/billing/denials";

import { formatCount } from "../_lib/format";
import { formatAmount } from "../_lib/metric-display";
import { DataTable } from "./data-table";
import { UtcTime } from "./utc-time";

/**
 * Recorded denials (the policy's "no", which writes no ledger row). `showOrg` adds the
 * organization column for views across orgs; on one org's page it would only repeat itself.
 */
export function DenialsTable({ denials, showOrg }: { denials: Denial[]; showOrg: boolean }) {
  return (
    <DataTable label="Recent denials">
      <thead>
        <tr>
          <th scope="col">Time (UTC)</th>
          {showOrg ? <th scope="col">Organization</th> : null}
          <th scope="col">Action</th>
          <th scope="col" className="num">
            Amount
          </th>
          <th scope="col">Reason</th>
          <th scope="col">Message</th>
          <th scope="col">Actor</th>
        </tr>
      </thead>
      <tbody>
        {denials.map((d) => (
          <tr key={d.id}>
            <td>
              <UtcTime value={d.createdAt} />
            </td>
            {showOrg ? (
              <td>
                {d.orgName === null ? (
                  <span className="muted">Unknown ({d.orgId})</span>
                ) : (
                  <Link href={`/organizations/${d.orgId}`}>{d.orgName}</Link>
                )}
              </td>
            ) : null}
            <td>{d.action}</td>
            <td className="num">{d.metric ? formatAmount(d.metric, d.amount) : formatCount(d.amount)}</td>
            <td>
              <code>{d.reasonCode}</code>
            </td>
            <td>{d.message}</td>
            <td>{d.actor}</td>
          </tr>
        ))}
      </tbody>
    </DataTable>
  );
}
