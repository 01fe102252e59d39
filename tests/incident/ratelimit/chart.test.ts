/**
 * `ratelimit top`'s chart: a line per top offender beside all clients, the threshold, and the
 * moments blocks were made and lifted, checked in the decoded pixels.
 */
import { describe, expect, it } from 'vitest';
import { RateLimitAnalyzer } from '../../../commands/incident/ratelimit/analyzer.ts';
import { topChart } from '../../../commands/incident/ratelimit/report.ts';
import type { BlockRecord } from '../../../commands/shared/block-records.ts';
import { PALETTE, chartTop, renderChartPng } from '../../../src/render/chart.ts';
import { around, columnOf, darkGrey, decode, near, rowOf, shareOfColumn, shareOfRow } from '../../harness/chart-pixels.ts';
import { nginxTime } from './log-lines.ts';

const T0 = Date.UTC(2026, 11, 5, 7, 0);
const MINUTE = 60_000;
const at = (minute: number) => new Date(T0 + minute * MINUTE).toISOString();

/** Eleven minutes: 203.0.113.7 a steady 50/min, 198.51.100.23 ramping 0, 5, ... 50/min. */
function burst() {
  const analyzer = new RateLimitAnalyzer({ trustForwardedFor: false });
  for (let minute = 0; minute <= 10; minute++) {
    for (const [ip, count] of [['203.0.113.7', 50], ['198.51.100.23', minute * 5]] as const) {
      for (let i = 0; i < count; i++) analyzer.candidate(`${ip} - - [${nginxTime(T0 + minute * MINUTE + i * 100)}] "POST /login HTTP/1.1" 429 0 "-" "curl"`);
    }
  }
  return analyzer.summary();
}

const inForce: BlockRecord = { cidr: '203.0.113.7/32', by: 'U0OPS', reason: 'stuffing', at: at(4), until: at(64), target: { kind: 'ingress', namespace: 'autostack', name: 'autostack' } };
const ended = { cidr: '198.51.100.23/32', at: at(2), endedAt: at(8) };

describe('ratelimit top chart', () => {
  it('has a line per offender beside all clients, and the blocks made and lifted in the window', () => {
    const chart = topChart(burst(), { app: 'backend', since: '15m', threshold: 100, blocks: [inForce], ended: [ended, { cidr: '192.0.2.9/32', at: at(-90), endedAt: at(-30) }] })!;
    expect(chart.series.map((s) => s.name)).toEqual(['all clients', '203.0.113.7', '198.51.100.23']);
    expect(chart.series[1]!.points.map((p) => p.value)).toEqual(Array(11).fill(50));
    expect(chart.series[2]!.points.map((p) => p.value)).toEqual([0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50]);
    // The block lifted before the window is not on it.
    expect(chart.markers).toEqual([
      { at: T0 + 2 * MINUTE, label: 'blocked 198.51.100.23/32' },
      { at: T0 + 4 * MINUTE, label: 'blocked 203.0.113.7/32' },
      { at: T0 + 8 * MINUTE, label: 'unblocked 198.51.100.23/32' },
    ]);
    expect(chart.alt).toBe(
      '429s per minute on backend, 07:00 to 07:11 UTC: peak 100/min at 07:10; threshold 100/min not exceeded; 203.0.113.7 peak 50/min at 07:00; 198.51.100.23 peak 50/min at 07:10; blocked 198.51.100.23/32 at 07:02; blocked 203.0.113.7/32 at 07:04; unblocked 198.51.100.23/32 at 07:08.',
    );
  });

  it('draws the steady offender at its height and each block moment at its time', async () => {
    const chart = topChart(burst(), { app: 'backend', since: '15m', threshold: 100, blocks: [inForce], ended: [ended] })!;
    const png = decode(await renderChartPng(chart));
    // 0..200: the highest value (100, also the threshold) and a tenth, rounded up.
    const top = chartTop(chart);
    expect(top).toBe(200);
    const steady = near(PALETTE.series[1]);
    expect(around(rowOf(50, top), (y) => shareOfRow(png, y, steady))).toBeGreaterThan(0.8);
    expect(shareOfRow(png, rowOf(70, top), steady)).toBeLessThan(0.1);
    // The time axis runs from the first minute to the last (07:00 to 07:10).
    const column = (minute: number) => columnOf(T0 + minute * MINUTE, T0, T0 + 10 * MINUTE);
    for (const minute of [2, 4, 8]) expect(around(column(minute), (x) => shareOfColumn(png, x, darkGrey)), `marker at 07:0${minute}`).toBeGreaterThan(0.4);
    for (const minute of [1, 3, 6, 9.5]) expect(around(column(minute), (x) => shareOfColumn(png, x, darkGrey)), `no marker at minute ${minute}`).toBeLessThan(0.15);
  });

  it('says when the offenders\' counts are estimates', () => {
    const summary = { ...burst(), offenderMinutesExact: false };
    const chart = topChart(summary, { app: 'backend', since: '15m', threshold: 100 })!;
    expect(chart.series.map((s) => s.name)).toEqual(['all clients', '203.0.113.7 (≈)', '198.51.100.23 (≈)']);
    expect(chart.alt).toContain('203.0.113.7 peak ≈50/min at 07:00');
  });
});
