"use client";

import { useRouter } from "next/navigation";
import { useEffect, useRef } from "react";

import { api, type RouterOutputs } from "@/trpc/react";

import { formatCount } from "../../_lib/format";
import { formatDuration, formatRate } from "../format";
import { ProgressBar, RunStateBadge } from "../run-state";

type Run = RouterOutputs["billing"]["backfill"]["get"];

/** While a run is alive the page asks for its progress this often. */
const POLL_MS = 1_000;

const isLive = (run: Run) => run.state === "running" || run.state === "cancelling";

function Fact({ label, value, testId }: { label: string; value: string; testId?: string }) {
  return (
    <div>
      <dt>{label}</dt>
      <dd data-testid={testId}>{value}</dd>
    </div>
  );
}

/**
 * A run's live progress: polled (TanStack Query `refetchInterval`) while the run is alive,
 * still once it has ended. When it ends, the server parts of the page (the diff report) are
 * re-rendered. Admins also get the cancel and resume controls; the server refuses them to
 * anyone else.
 */
export function RunProgress({ initial, isAdmin }: { initial: Run; isAdmin: boolean }) {
  const router = useRouter();
  const utils = api.useUtils();
  const query = api.billing.backfill.get.useQuery(
    { runId: initial.id },
    { initialData: initial, refetchInterval: (q) => (q.state.data && isLive(q.state.data) ? POLL_MS : false) },
  );
  const run = query.data;
  const onChanged = (next: Run) => utils.billing.backfill.get.setData({ runId: next.id }, next);
  const cancel = api.billing.backfill.cancel.useMutation({ onSuccess: onChanged });
  const resume = api.billing.backfill.resume.useMutation({ onSuccess: onChanged });

  // The report on the page was rendered while the run was alive: show the final one.
  const wasLive = useRef(isLive(initial));
  useEffect(() => {
    if (wasLive.current && !isLive(run)) router.refresh();
    wasLive.current = isLive(run);
  }, [run, router]);

  const { progress } = run;
  const error = cancel.error ?? resume.error;
  return (
    <section aria-labelledby="progress-title" className="admin-panel run-progress">
      <h2 id="progress-title">
        Progress <RunStateBadge state={run.state} />
      </h2>
      <div className="progress-line">
        <ProgressBar percent={progress.percent} label="Run progress" />
        <span className="progress-percent" data-testid="run-percent">
          {progress.percent}%
        </span>
      </div>
      {progress.phase === "verifying" ? (
        <p role="status">Every organization is done; verifying them all again (cache == SUM(ledger) == old count)…</p>
      ) : null}
      {run.state === "interrupted" ? (
        <p className="notice" role="note">
          Nobody is executing this run any more (the process that ran it stopped). Resume it to continue from its cursor; organizations
          already done are not done again.
        </p>
      ) : null}
      {run.state === "failed" && run.error ? (
        <p className="error-panel" role="alert">
          Failed: {run.error}
        </p>
      ) : null}
      <dl className="facts" aria-label="Run totals">
        <Fact
          label="Organizations scanned"
          value={`${formatCount(run.orgsScanned)} of ${formatCount(run.orgsTotal)}`}
          testId="run-scanned"
        />
        <Fact label="Left to scan" value={formatCount(progress.orgsLeft)} />
        <Fact
          label="Rate"
          value={progress.ratePerSecond === null ? "—" : `${formatRate(progress.ratePerSecond)} orgs/s`}
          testId="run-rate"
        />
        <Fact label="ETA" value={progress.etaSeconds === null ? "—" : formatDuration(progress.etaSeconds)} testId="run-eta" />
        <Fact label="Elapsed" value={formatDuration(progress.elapsedSeconds)} />
        <Fact label="Billing mismatches found" value={formatCount(run.mismatches)} testId="run-mismatches" />
        <Fact label="Legacy JSON mismatches" value={formatCount(run.legacyMismatches)} />
        <Fact label="Migration rows written" value={formatCount(run.deltasApplied)} testId="run-deltas" />
        <Fact label="Cache rows repaired" value={formatCount(run.cacheRepairs)} />
        <Fact
          label="Mismatches remaining"
          value={
            run.remaining === null
              ? run.mode === "dry_run"
                ? "— (an apply measures it)"
                : "— (not measured yet)"
              : formatCount(run.remaining)
          }
          testId="run-remaining"
        />
      </dl>
      {query.error ? (
        <p className="muted" role="status">
          Could not refresh the progress ({query.error.message}); retrying.
        </p>
      ) : null}
      {isAdmin && (run.canCancel || run.canResume) ? (
        <div className="run-controls">
          {run.canCancel ? (
            <button
              type="button"
              className="button button-secondary"
              disabled={cancel.isPending}
              onClick={() => cancel.mutate({ runId: run.id })}
            >
              {cancel.isPending ? "Cancelling…" : "Cancel run"}
            </button>
          ) : null}
          {run.canResume ? (
            <button type="button" className="button" disabled={resume.isPending} onClick={() => resume.mutate({ runId: run.id })}>
              {resume.isPending ? "Resuming…" : "Resume run"}
            </button>
          ) : null}
        </div>
      ) : null}
      {error ? (
        <p role="alert" className="error-panel">
          {error.message}
        </p>
      ) : null}
    </section>
  );
}
