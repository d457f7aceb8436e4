import { STATE_LABELS } from "./format";

/** A run's state as a badge; `interrupted` says what to do about it. */
export function RunStateBadge({ state }: { state: string }) {
  return (
    <span
      className={`status status-${state}`}
      data-testid="run-state"
      title={state === "interrupted" ? "Nobody is executing this run any more: resume it" : undefined}
    >
      {STATE_LABELS[state] ?? state}
    </span>
  );
}

/** A run's progress as a bar with its percentage (also read out by screen readers). */
export function ProgressBar({ percent, label }: { percent: number; label: string }) {
  return (
    <div
      className="progress"
      role="progressbar"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={percent}
      aria-valuetext={`${percent}%`}
    >
      <span style={{ width: `${percent}%` }} />
    </div>
  );
}
