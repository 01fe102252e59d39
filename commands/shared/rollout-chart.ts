/**
 * A rollout's chart for its job's thread: ready replicas (and those at the new pod template) at
 * each poll while the job follows the rollout, with the moments of the job's steps. The step
 * lines stay the record; the chart shows the shape at a glance.
 */
import type { Chart } from '../../src/core/result.ts';
import type { Clock, JobRun } from '../../src/core/types.ts';
import type { RolloutState } from './kube-rollouts.ts';

interface Sample {
  at: number;
  ready: number;
  updated: number;
  desired: number;
}

const hhmmss = (ms: number) => new Date(ms).toISOString().slice(11, 19);

export class RolloutTrace {
  private readonly samples: Sample[] = [];
  private readonly moments: Array<{ at: number; label: string }> = [];

  /** `what`: "Deployment backend". */
  constructor(
    private readonly clock: Clock,
    private readonly what: string,
  ) {}

  /** For `waitForRollout`'s `onPoll`. */
  readonly sample = (state: RolloutState): void => {
    this.samples.push({ at: this.clock.now().getTime(), ready: state.ready, updated: state.updated, desired: state.desired });
  };

  /** A step of the job, marked on the time axis ("image set", "rollback started"). */
  mark(label: string): void {
    this.moments.push({ at: this.clock.now().getTime(), label });
  }

  /** None before two samples: one point shows no shape. */
  chart(): Chart | undefined {
    if (this.samples.length < 2) return undefined;
    const first = this.samples[0]!;
    const last = this.samples.at(-1)!;
    const desired = last.desired;
    const lowest = Math.min(...this.samples.map((s) => s.ready));
    const alt = [
      `Ready replicas of ${this.what}, ${hhmmss(first.at)} to ${hhmmss(last.at)} UTC: ${first.ready} ready at the start, ${last.ready} of ${desired} at the end, lowest ${lowest}`,
      `${last.updated} of ${desired} updated to the new pod template`,
      ...this.moments.map((m) => `${m.label} at ${hhmmss(m.at)}`),
    ].join('; ');
    const line = (name: string, value: (s: Sample) => number) => ({ name, points: this.samples.map((s) => ({ at: s.at, value: value(s) })) });
    return {
      title: `Ready replicas of ${this.what}`,
      yTitle: 'replicas',
      series: [line('ready', (s) => s.ready), line('updated', (s) => s.updated)],
      threshold: { value: desired, label: `desired ${desired}` },
      markers: [...this.moments],
      alt: `${alt}.`,
    };
  }
}

/**
 * Runs `work` with a trace of the rollouts it follows; the trace's chart goes into the job's thread
 * when the work ends, whatever the outcome (a failed rollout is when the shape matters most).
 */
export async function withRolloutChart<T>(run: Pick<JobRun, 'chart' | 'clients'>, what: string, work: (trace: RolloutTrace) => Promise<T>): Promise<T> {
  const trace = new RolloutTrace(run.clients.clock, what);
  try {
    return await work(trace);
  } finally {
    const chart = trace.chart();
    if (chart) await run.chart(chart);
  }
}
