/**
 * Charts: the PNG's decoded pixels (not its bytes), the console's sparkline, and the upload into
 * the thread through the Notifier and the Slack emulator, including a chart that cannot be drawn.
 */
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Chart, Reply } from '../../src/core/result.ts';
import { reply as answer } from '../../src/core/result.ts';
import type { JobDefinition } from '../../src/core/types.ts';
import { CHART_LAYOUT, MAX_CHART_BYTES, PALETTE, chartTop, renderChartPng } from '../../src/render/chart.ts';
import { chartLine, replyToText, sparkline } from '../../src/render/text.ts';
import { renderMessage } from '../../src/render/blockkit.ts';
import { slackNotifier } from '../../src/slack/notifier.ts';
import { createSlackClient } from '../../src/clients.ts';
import { SlackEmulator, messageToText } from '../../dev/slack-emulator/index.ts';
import { around, decode, near, rowOf, shareOfRow } from '../harness/chart-pixels.ts';
import { OPS, USERS, startTestBot } from '../harness/bot.ts';
import type { TestBot } from '../harness/bot.ts';

const T0 = Date.UTC(2026, 11, 5, 7, 0);
const COUNTS = [3, 4, 2, 5, 8, 40, 95, 142, 130, 120, 20, 4, 3, 2, 1];

function knownChart(overrides: Partial<Chart> = {}): Chart {
  return {
    title: '429s per minute on backend, last 15m',
    yTitle: '429s per minute',
    series: [{ name: 'all clients', points: COUNTS.map((value, i) => ({ at: T0 + i * 60_000, value })) }],
    threshold: { value: 100, label: 'alert threshold 100/min' },
    markers: [{ at: T0 + 9 * 60_000, label: 'blocked 203.0.113.7/32' }],
    alt: '429s per minute on backend, 07:00 to 07:15 UTC: peak 142/min at 07:07; threshold 100/min exceeded in 3 minutes.',
    ...overrides,
  };
}

describe('chart rendering', () => {
  it('draws a known series as a PNG of the layout size with the threshold line at its height', async () => {
    const chart = knownChart();
    const bytes = await renderChartPng(chart);
    expect(bytes.length).toBeLessThan(MAX_CHART_BYTES);
    const png = decode(bytes);
    const { width, height, padding } = CHART_LAYOUT;
    expect([png.width, png.height]).toEqual([width + padding.left + padding.right, height + padding.top + padding.bottom]);

    // The y axis runs 0..200 (142 and a tenth, rounded up): 100/min is half way up the plot.
    expect(chartTop(chart)).toBe(200);
    const alarm = near(PALETTE.alarm);
    const expectedRow = rowOf(100, 200);
    expect(around(expectedRow, (y) => shareOfRow(png, y, alarm))).toBeGreaterThan(0.8);
    // Nowhere else is a line of that colour across the plot.
    for (const y of [padding.top + 10, expectedRow - 20, expectedRow + 20, padding.top + height - 10]) expect(shareOfRow(png, y, alarm)).toBeLessThan(0.1);

    // Moving the threshold moves the line: 50/min is three quarters down.
    const lower = decode(await renderChartPng(knownChart({ threshold: { value: 50, label: '50/min' } })));
    expect(around(rowOf(50, 200), (y) => shareOfRow(lower, y, alarm))).toBeGreaterThan(0.8);
    expect(shareOfRow(lower, expectedRow, alarm)).toBeLessThan(0.1);
  });

  it('refuses a chart with no points (the caller keeps its text)', async () => {
    await expect(renderChartPng(knownChart({ series: [{ name: 'none', points: [] }] }))).rejects.toThrow(/has no points/);
  });

  it('prints a chart as a sparkline scaled with its threshold, beside the alt text', () => {
    expect(sparkline([0, 1, 2, 3, 4, 5, 6, 7])).toBe('▁▂▃▄▅▆▇█');
    // Forty characters at most; a bucket shows its highest value so a one-minute spike stays.
    const long = Array.from({ length: 400 }, (_, i) => (i === 201 ? 10 : 0));
    expect(sparkline(long)).toHaveLength(40);
    expect(sparkline(long)).toContain('█');

    const line = chartLine(knownChart());
    expect(line).toBe(`📈 ▁▁▁▁▁▃▆█▇▇▂▁▁▁▁ ${knownChart().alt}`);
    const reply: Reply = { summary: '429s', parts: [{ kind: 'text', text: 'Peak 142/min' }, { kind: 'chart', chart: knownChart() }], visibility: 'channel' };
    expect(replyToText(reply)).toBe(`Peak 142/min\n${line}`);
    expect(messageToText(renderMessage(reply) as never)).toContain(line);
  });
});

describe('charts in Slack threads', () => {
  const emulator = new SlackEmulator({ users: [{ id: 'U0OPS', name: 'ops' }], channels: [{ id: 'C0CHART', name: 'charts' }] });
  const warnings: string[] = [];
  const log = pino(
    { level: 'warn' },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        warnings.push(chunk.toString('utf8'));
        done();
      },
    }),
  );
  let notify: ReturnType<typeof slackNotifier>;

  beforeAll(async () => {
    await emulator.start();
    notify = slackNotifier(createSlackClient(emulator.botToken, emulator.apiUrl), log);
  });
  afterAll(() => emulator.close());

  it('uploads the chart as a PNG into the thread of the message, with its alt text', async () => {
    const reply: Reply = { summary: '1,030 429s on backend', parts: [{ kind: 'text', text: 'Peak 142/min at 07:07 UTC' }, { kind: 'chart', chart: knownChart() }], visibility: 'channel' };
    const ts = await notify.post('C0CHART', reply);
    const file = emulator.files().find((f) => f.title === knownChart().title);
    expect(file).toMatchObject({ name: '429s-per-minute-on-backend-last-15m.png', mimetype: 'image/png', alt_text: knownChart().alt });
    expect(file!.shares.some((s) => s.channel === 'C0CHART' && s.thread_ts === ts)).toBe(true);
    const png = decode(file!.content!);
    expect(png.width).toBe(CHART_LAYOUT.width + CHART_LAYOUT.padding.left + CHART_LAYOUT.padding.right);
    expect(emulator.thread('C0CHART', ts!).some((m) => m.files?.some((f) => f.id === file!.id))).toBe(true);
  });

  it('a chart that cannot be drawn or uploaded leaves the text message as it is', async () => {
    const before = emulator.files().length;
    const broken: Reply = { summary: 'no data', parts: [{ kind: 'text', text: 'No 429s in the last 15m.' }, { kind: 'chart', chart: knownChart({ title: 'empty', series: [{ name: 'none', points: [] }] }) }], visibility: 'channel' };
    const ts = await notify.post('C0CHART', broken);
    expect(messageToText(emulator.message('C0CHART', ts!)!)).toContain('No 429s in the last 15m.');

    emulator.failNext('files.getUploadURLExternal', { error: 'internal_error' });
    const refused = await notify.post('C0CHART', { summary: 'peak', parts: [{ kind: 'text', text: 'Peak 142/min' }, { kind: 'chart', chart: knownChart() }] });
    expect(messageToText(emulator.message('C0CHART', refused!)!)).toContain('Peak 142/min');

    expect(emulator.files()).toHaveLength(before);
    const logged = warnings.map((line) => JSON.parse(line) as { msg: string; err: string });
    expect(logged).toEqual([
      expect.objectContaining({ msg: 'chart not posted (its numbers are in the text)', err: 'chart "empty" has no points' }),
      expect.objectContaining({ msg: 'chart not posted (its numbers are in the text)', err: expect.stringMatching(/internal_error/) }),
    ]);
  });
});

describe('charts in job threads', () => {
  /** Posts a step, then the charts it is given, then succeeds. */
  const charting: JobDefinition<{ charts: Chart[] }> = {
    name: 'charting',
    title: () => 'Charting',
    async process(run) {
      await run.step('rollout: 2 of 2 ready');
      for (const chart of run.data.charts) await run.chart(chart);
      return answer('charted');
    },
  };
  let t: TestBot;
  beforeAll(async () => {
    t = await startTestBot({ modules: [], jobs: [charting] });
  });
  afterAll(() => t?.stop());

  async function finished(charts: Chart[]): Promise<string> {
    const ref = await t.bot.jobs.start('charting', { charts }, { channel: OPS, requestedBy: USERS.operator });
    await t.eventually(() => /Succeeded|Failed/.test(t.text(t.emulator.message(OPS, ref.threadTs!)!)), 'the job to finish');
    return ref.threadTs!;
  }

  it("uploads a job's chart into its thread with its alt text, after its steps", async () => {
    const chart = knownChart({ title: 'Ready replicas of Deployment web' });
    const ts = await finished([chart]);
    expect(t.text(t.emulator.message(OPS, ts)!)).toContain('Succeeded');
    const file = t.emulator.files().find((f) => f.title === chart.title);
    expect(file).toMatchObject({ mimetype: 'image/png', alt_text: chart.alt });
    expect(file!.shares).toEqual([expect.objectContaining({ channel: OPS, thread_ts: ts })]);
    const thread = t.emulator.thread(OPS, ts).map((m) => t.text(m));
    expect(thread.join('\n')).toContain('rollout: 2 of 2 ready');
    expect(thread.join('\n')).toContain(chartLine(chart));
  });

  it('a chart that cannot be drawn or uploaded leaves the job, its steps and its sparkline line as they were', async () => {
    const before = t.emulator.files().length;
    const empty = knownChart({ title: 'empty', series: [{ name: 'none', points: [] }], alt: 'No samples.' });
    t.emulator.failNext('files.getUploadURLExternal', { error: 'internal_error' });
    const ts = await finished([knownChart({ title: 'refused' }), empty]);
    expect(t.text(t.emulator.message(OPS, ts)!)).toContain('Succeeded');
    expect(t.emulator.files()).toHaveLength(before);
    const thread = t.emulator.thread(OPS, ts).map((m) => t.text(m)).join('\n');
    expect(thread).toContain('rollout: 2 of 2 ready');
    expect(thread).toContain(chartLine(knownChart()));
    expect(thread).toContain('📈 No samples.');
  });
});
