import type { Metadata } from "next";
import Link from "next/link";

import { roleAtLeast } from "@/server/auth";
import { MAX_BATCH_SIZE, MAX_CONCURRENCY } from "@/server/billing/backfill/dashboard-schemas";
import { DEFAULT_BATCH_SIZE, DEFAULT_CONCURRENCY } from "@/server/billing/backfill/runner";
import { api, currentStaff } from "@/trpc/server";

import { DataTable } from "../_components/data-table";
import { KeysetPager } from "../_components/keyset-pager";
import { UtcTime } from "../_components/utc-time";
import { formatCount } from "../_lib/format";
import { withQuery } from "../_lib/query-string";
import { readRunCursor, runCursorParam } from "./filters";
import { MODE_LABELS, runTitle, scopeLabel } from "./format";
import { ProgressBar, RunStateBadge } from "./run-state";
import { StartRunForm } from "./start-run-form";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Backfill" };

const PAGE_SIZE = 20;
type SearchParams = Promise<Record<string, string | string[] | undefined>>;

export default async function BackfillPage({ searchParams }: { searchParams: SearchParams }) {
  const params = await searchParams;
  const cursor = readRunCursor(params.after);
  const [page, session] = await Promise.all([api.billing.backfill.list({ cursor, limit: PAGE_SIZE }), currentStaff()]);
  const isAdmin = roleAtLeast(session?.user.role, "admin");

  return (
    <>
      <h1>Backfill</h1>
      <p className="muted">
        Moves usage counted the old way (COUNT of members and teams, SUM of file sizes) onto the ledger and proves that, for every
        organization, cache == SUM(ledger) == old count. The same engine as <code>npm run backfill</code>: runs started there show here too.
        Times are UTC.
      </p>

      {isAdmin ? (
        <StartRunForm
          defaults={{
            batchSize: DEFAULT_BATCH_SIZE,
            concurrency: DEFAULT_CONCURRENCY,
            maxBatchSize: MAX_BATCH_SIZE,
            maxConcurrency: MAX_CONCURRENCY,
          }}
        />
      ) : null}

      <section aria-labelledby="runs-title">
        <h2 id="runs-title">Runs</h2>
        {page.items.length === 0 ? (
          <p className="muted">{cursor ? "No older runs." : "No backfill has run yet."}</p>
        ) : (
          <DataTable labelledBy="runs-title" wrappingHeads>
            <thead>
              <tr>
                <th scope="col">Started (UTC)</th>
                <th scope="col">Mode</th>
                <th scope="col">State</th>
                <th scope="col">Scope</th>
                <th scope="col">Progress</th>
                <th scope="col" className="num">
                  Mismatches
                </th>
                <th scope="col" className="num">
                  Migration rows
                </th>
                <th scope="col" className="num">
                  Remaining
                </th>
              </tr>
            </thead>
            <tbody>
              {page.items.map((run) => (
                <tr key={run.id}>
                  <td>
                    <Link href={`/backfill/${run.id}`} aria-label={`${runTitle(run.mode)} ${run.id}`}>
                      <UtcTime value={run.startedAt} precision="second" />
                    </Link>
                  </td>
                  <td>{MODE_LABELS[run.mode] ?? run.mode}</td>
                  <td>
                    <RunStateBadge state={run.state} />
                  </td>
                  <td>{scopeLabel(run.orgPrefix)}</td>
                  <td className="row-progress">
                    <ProgressBar percent={run.progress.percent} label={`Run ${run.id} progress`} />
                    <span>
                      {formatCount(run.orgsScanned)}/{formatCount(run.orgsTotal)}
                    </span>
                  </td>
                  <td className="num">{formatCount(run.mismatches)}</td>
                  <td className="num">{formatCount(run.deltasApplied)}</td>
                  <td className="num">{run.remaining === null ? "—" : formatCount(run.remaining)}</td>
                </tr>
              ))}
            </tbody>
          </DataTable>
        )}
        <KeysetPager
          label="Run pages"
          firstHref={cursor ? "/backfill" : null}
          nextHref={page.nextCursor ? withQuery("/backfill", { after: runCursorParam(page.nextCursor) }) : null}
          nextLabel="Older runs →"
        />
      </section>
    </>
  );
}
