import { TRPCError } from "@trpc/server";
import type { Metadata } from "next";
import Link from "next/link";
import { notFound } from "next/navigation";

import { roleAtLeast } from "@/server/auth";
import { BACKFILL_METRICS, DIFF_KINDS } from "@/server/billing/backfill/types";
import { UUID_PATTERN } from "@/server/billing/uuid";
import { api, currentStaff } from "@/trpc/server";

import { DataTable } from "../../_components/data-table";
import { FilterForm } from "../../_components/filter-form";
import { FilterProblems } from "../../_components/filter-problems";
import { KeysetPager } from "../../_components/keyset-pager";
import { UtcTime } from "../../_components/utc-time";
import { formatCount, formatSigned } from "../../_lib/format";
import { metricLabel } from "../../_lib/metric-display";
import { queryString, withQuery } from "../../_lib/query-string";
import { diffCursorParam, readDiffCursor, readDiffFilter } from "../filters";
import { KIND_LABELS, runTitle, scopeLabel } from "../format";
import { RunProgress } from "./run-progress";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Backfill run" };

const PAGE_SIZE = 50;

type Params = Promise<{ runId: string }>;
type SearchParams = Promise<Record<string, string | string[] | undefined>>;

async function load(runId: string) {
  try {
    return await api.billing.backfill.get({ runId });
  } catch (error) {
    if (error instanceof TRPCError && error.code === "NOT_FOUND") return null;
    throw error;
  }
}

/** Exact, in the gauge's own unit (storage in bytes: rounded units could hide a one-byte difference); null as a dash. */
const amount = (value: bigint | null) => (value === null ? "—" : formatCount(value));

export default async function BackfillRunPage({ params, searchParams }: { params: Params; searchParams: SearchParams }) {
  const { runId: rawId } = await params;
  if (!UUID_PATTERN.test(rawId)) notFound();
  const runId = rawId.toLowerCase();
  const query = await searchParams;
  const { filter, problems, raw } = readDiffFilter(query);
  const cursor = readDiffCursor(query.after);
  const [run, session] = await Promise.all([load(runId), currentStaff()]);
  if (!run) notFound();
  const diffs = problems.length
    ? { items: [], nextCursor: null }
    : await api.billing.backfill.diffs({ runId, filter, cursor, limit: PAGE_SIZE });
  const isAdmin = roleAtLeast(session?.user.role, "admin");
  const filterQuery = queryString(raw);
  const here = `/backfill/${runId}`;

  return (
    <>
      <p className="muted">
        <Link href="/backfill">← Backfill runs</Link>
      </p>
      <h1>
        {runTitle(run.mode)} <code className="run-id">{run.id}</code>
      </h1>
      <dl className="facts" aria-label="Run">
        <div>
          <dt>Scope</dt>
          <dd>{scopeLabel(run.orgPrefix)}</dd>
        </div>
        <div>
          <dt>Started (UTC)</dt>
          <dd>
            <UtcTime value={run.startedAt} precision="second" />
          </dd>
        </div>
        <div>
          <dt>Finished (UTC)</dt>
          <dd>{run.finishedAt ? <UtcTime value={run.finishedAt} precision="second" /> : "—"}</dd>
        </div>
        <div>
          <dt>Started by</dt>
          <dd>{run.startedBy}</dd>
        </div>
        <div>
          <dt>Batch size · concurrency</dt>
          <dd>
            {formatCount(run.batchSize)} · {formatCount(run.concurrency)}
          </dd>
        </div>
      </dl>

      <RunProgress initial={run} isAdmin={isAdmin} />

      <section aria-labelledby="diffs-title">
        <h2 id="diffs-title">Diff report</h2>
        <p className="muted">
          One row per organization and gauge that disagreed when the run looked: the legacy JSON value, the old count (the truth), the cache
          and SUM(ledger) before, and the <code>migration</code> delta an apply wrote.
        </p>
        <FilterForm action={here} label="Diff filters" clearHref={filterQuery ? here : null}>
          <div className="field">
            <label htmlFor="diff-metric">Metric</label>
            <select id="diff-metric" name="metric" defaultValue={raw.metric}>
              <option value="">All metrics</option>
              {BACKFILL_METRICS.map((m) => (
                <option key={m} value={m}>
                  {metricLabel(m)}
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor="diff-kind">Mismatch kind</label>
            <select id="diff-kind" name="kind" defaultValue={raw.kind}>
              <option value="">All kinds</option>
              {DIFF_KINDS.map((k) => (
                <option key={k} value={k}>
                  {KIND_LABELS[k] ?? k}
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor="diff-org">Organization</label>
            <input id="diff-org" name="org" defaultValue={raw.org} placeholder="Id, or the start of its slug" autoComplete="off" />
          </div>
        </FilterForm>

        {problems.length ? (
          <FilterProblems problems={problems} />
        ) : (
          <p>
            <a href={withQuery(`/api/backfill/${runId}/diffs`, raw)} download>
              Download CSV{filterQuery ? " (filtered)" : ""}
            </a>
          </p>
        )}

        {diffs.items.length === 0 ? (
          <p className="muted">{cursor ? "No more rows." : filterQuery ? "No rows match." : "No differences recorded."}</p>
        ) : (
          <DataTable label="Differences" wrappingHeads>
            <thead>
              <tr>
                <th scope="col">Organization</th>
                <th scope="col">Metric</th>
                <th scope="col">Kind</th>
                <th scope="col" className="num">
                  Legacy JSON
                </th>
                <th scope="col" className="num">
                  Old count
                </th>
                <th scope="col" className="num">
                  Cache before
                </th>
                <th scope="col" className="num">
                  SUM(ledger) before
                </th>
                <th scope="col" className="num">
                  Migration delta
                </th>
              </tr>
            </thead>
            <tbody>
              {diffs.items.map((d) => (
                <tr key={`${d.orgId}/${d.metric}`}>
                  <td>
                    {d.orgName ? <Link href={`/organizations/${d.orgId}`}>{d.orgSlug}</Link> : <code title="deleted since">{d.orgId}</code>}
                  </td>
                  <td>{d.metric}</td>
                  <td>
                    <span className={`badge kind-${d.kind}`}>{KIND_LABELS[d.kind] ?? d.kind}</span>
                  </td>
                  <td className={`num${d.legacyWrong ? " cell-wrong" : ""}`}>{amount(d.legacyValue)}</td>
                  <td className="num">{amount(d.oldCount)}</td>
                  <td className={`num${d.cacheWrong ? " cell-wrong" : ""}`}>{amount(d.cacheBefore)}</td>
                  <td className={`num${d.ledgerWrong ? " cell-wrong" : ""}`}>{amount(d.ledgerBefore)}</td>
                  <td className="num">{d.deltaApplied === 0n ? "—" : formatSigned(d.deltaApplied)}</td>
                </tr>
              ))}
            </tbody>
          </DataTable>
        )}
        <KeysetPager
          label="Diff pages"
          firstHref={cursor ? withQuery(here, raw) : null}
          firstLabel="First page"
          nextHref={diffs.nextCursor ? withQuery(here, raw, { after: diffCursorParam(diffs.nextCursor) }) : null}
          nextLabel="Next page →"
        />
      </section>
    </>
  );
}
