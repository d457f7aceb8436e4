import type { RouterOutputs } from "@/server/api/root";

import { DataTable } from "../_components/data-table";
import { UtcTime } from "../_components/utc-time";
import { formatCount } from "../_lib/format";

type ArchivedMonth = RouterOutputs["billing"]["ledger"]["archives"][number];

/**
 * The months `npm run archive-ledger` moved out of the ledger: their rows are in the files, not
 * in the entries above or the CSV download; the totals count them, except totals that read
 * live rows (an actor filter, the part-day edges of a time filter: ledger-totals.ts).
 */
export function ArchivedMonths({ archives }: { archives: ArchivedMonth[] }) {
  if (archives.length === 0) return null;
  return (
    <section aria-label="Archived months">
      <h2>Archived months</h2>
      <p className="muted">
        These UTC months were moved out of the ledger into files (<code>npm run archive-ledger</code>). Their entries are not listed above
        and not in the CSV download. The totals and every organization&apos;s usage still count them, except totals filtered by actor and
        the part-day edges of a time filter, which read the live rows only.
      </p>
      <DataTable label="Archived months">
        <thead>
          <tr>
            <th scope="col">Month (UTC)</th>
            <th scope="col" className="num">
              Entries
            </th>
            <th scope="col">File</th>
            <th scope="col">SHA-256</th>
            <th scope="col">Archived (UTC)</th>
          </tr>
        </thead>
        <tbody>
          {archives.map((a) => (
            <tr key={a.month}>
              <td>{a.month}</td>
              <td className="num">{formatCount(a.rows)}</td>
              <td>
                <code>{a.file}</code>
              </td>
              <td>
                <code title={a.fileSha256}>{a.fileSha256.slice(0, 12)}…</code>
              </td>
              <td>
                <UtcTime value={a.archivedAt} />
              </td>
            </tr>
          ))}
        </tbody>
      </DataTable>
    </section>
  );
}
