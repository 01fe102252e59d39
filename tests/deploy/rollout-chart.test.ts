/** A rollout's chart: ready replicas at each poll, the desired count and the job's steps, checked in the decoded pixels. */
import { describe, expect, it } from 'vitest';
import { RolloutTrace } from '../../commands/shared/rollout-chart.ts';
import type { RolloutState } from '../../commands/shared/kube-rollouts.ts';
import { PALETTE, chartTop, renderChartPng } from '../../src/render/chart.ts';
import { chartLine } from '../../src/render/text.ts';
import { around, columnOf, darkGrey, decode, near, rowOf, shareOfColumn, shareOfRow } from '../harness/chart-pixels.ts';

const T0 = Date.UTC(2026, 11, 5, 7, 0);
const SECOND = 1000;

function state(ready: number, updated: number, desired = 4): RolloutState {
  return { done: ready === desired && updated === desired, failed: false, message: `${ready} ready`, desired, updated, ready, available: ready };
}

/** A rollout of four replicas over 100 s, polled every 10 s, with the image set at 0 s and the rollout done at 100 s. */
function traced(): RolloutTrace {
  let now = T0;
  const trace = new RolloutTrace({ now: () => new Date(now) }, 'Deployment web');
  trace.mark('image set');
  const readyAt = [4, 3, 3, 3, 4, 3, 3, 4, 4, 4, 4];
  readyAt.forEach((ready, i) => {
    now = T0 + i * 10 * SECOND;
    trace.sample(state(ready, Math.min(4, Math.floor(i / 2))));
  });
  trace.mark('rolled out');
  return trace;
}

describe('rollout chart', () => {
  it('has the ready and updated replicas per poll, the desired count and the steps, with the numbers in its alt text', () => {
    const chart = traced().chart()!;
    expect(chart.title).toBe('Ready replicas of Deployment web');
    expect(chart.series.map((s) => [s.name, s.points.map((p) => p.value)])).toEqual([
      ['ready', [4, 3, 3, 3, 4, 3, 3, 4, 4, 4, 4]],
      ['updated', [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 4]],
    ]);
    expect(chart.threshold).toEqual({ value: 4, label: 'desired 4' });
    expect(chart.markers).toEqual([
      { at: T0, label: 'image set' },
      { at: T0 + 100 * SECOND, label: 'rolled out' },
    ]);
    expect(chart.alt).toBe(
      'Ready replicas of Deployment web, 07:00:00 to 07:01:40 UTC: 4 ready at the start, 4 of 4 at the end, lowest 3; 4 of 4 updated to the new pod template; image set at 07:00:00; rolled out at 07:01:40.',
    );
    expect(chartLine(chart)).toBe(`📈 █▆▆▆█▆▆████ ${chart.alt}`);
  });

  it('has no chart before two polls', () => {
    const trace = new RolloutTrace({ now: () => new Date(T0) }, 'Deployment web');
    trace.sample(state(1, 1));
    expect(trace.chart()).toBeUndefined();
  });

  it('draws the desired line at its height and the steps at their times', async () => {
    const chart = traced().chart()!;
    const png = decode(await renderChartPng(chart));
    // 0..5: four and a tenth, rounded up.
    expect(chartTop(chart)).toBe(5);
    const alarm = near(PALETTE.alarm);
    expect(around(rowOf(4, 5), (y) => shareOfRow(png, y, alarm))).toBeGreaterThan(0.8);
    expect(shareOfRow(png, rowOf(2, 5), alarm)).toBeLessThan(0.1);
    const column = (seconds: number) => columnOf(T0 + seconds * SECOND, T0, T0 + 100 * SECOND);
    // The image is set at the left edge (on the axis itself), the rollout done at the right one.
    expect(around(column(100) - 1, (x) => shareOfColumn(png, x, darkGrey))).toBeGreaterThan(0.4);
    for (const seconds of [25, 50, 75]) expect(around(column(seconds), (x) => shareOfColumn(png, x, darkGrey))).toBeLessThan(0.15);
  });
});
