/**
 * How the rehearsal records and prints its phases: each one with its timing, its counts,
 * and the checks that failed (a phase passes when none did).
 */

export type Counts = Record<string, number | string | boolean | null>;

export interface PhaseReport {
  key: string;
  title: string;
  ok: boolean;
  ms: number;
  counts: Counts;
  /** Failed checks, one line each. */
  problems: string[];
  /** The output of a command the phase ran, kept when it failed. */
  output?: string;
  /** Not run, because an earlier phase's outcome made it pointless (it counts as failed). */
  skipped?: boolean;
}

export interface PhaseContext {
  counts: Counts;
  /** Records a failed check unless `ok`. */
  expect(ok: boolean, problem: string): void;
  /** Keeps a command's output for the report (shown when the phase fails). */
  keepOutput(output: string): void;
}

export class PhaseRecorder {
  readonly phases: PhaseReport[] = [];

  constructor(
    private readonly total: number,
    private readonly log: (line: string) => void,
  ) {}

  /**
   * Runs one phase. A failed check marks it failed and the rehearsal goes on (the later
   * phases still say something); an exception marks it failed and is rethrown (stop).
   */
  async run(key: string, title: string, work: (phase: PhaseContext) => Promise<void>): Promise<PhaseReport> {
    const report: PhaseReport = { key, title, ok: true, ms: 0, counts: {}, problems: [] };
    this.phases.push(report);
    this.log(`[${this.phases.length}/${this.total}] ${title}…`);
    const started = performance.now();
    const context: PhaseContext = {
      counts: report.counts,
      expect: (ok, problem) => {
        if (!ok) report.problems.push(problem);
      },
      keepOutput: (output) => (report.output = output),
    };
    try {
      await work(context);
    } catch (error) {
      report.problems.push(error instanceof Error ? error.message : String(error));
      throw error;
    } finally {
      report.ms = performance.now() - started;
      report.ok = report.problems.length === 0;
      this.print(report);
    }
    return report;
  }

  /** Records a phase that is not run (it counts as failed, with `reason` as its problem). */
  skip(key: string, title: string, reason: string): PhaseReport {
    const report: PhaseReport = { key, title, ok: false, ms: 0, counts: {}, problems: [`skipped: ${reason}`], skipped: true };
    this.phases.push(report);
    this.log(`[${this.phases.length}/${this.total}] ${title}…`);
    this.log(`      SKIPPED: ${reason}`);
    return report;
  }

  private print(report: PhaseReport): void {
    const counts = Object.entries(report.counts)
      .map(([name, value]) => `${name} ${typeof value === "number" ? value.toLocaleString("en-US") : String(value)}`)
      .join(", ");
    this.log(`      ${report.ok ? "ok" : "FAILED"} in ${(report.ms / 1000).toFixed(2)} s${counts ? `: ${counts}` : ""}`);
    for (const problem of report.problems) this.log(`      ✗ ${problem}`);
    if (!report.ok && report.output) {
      for (const line of report.output.trimEnd().split("\n").slice(-15)) this.log(`      | ${line}`);
    }
  }
}
