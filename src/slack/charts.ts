/** The charts of a reply, uploaded as PNG images into its thread with their alt text. */
import type { WebClient } from '@slack/web-api';
import type { Logger } from 'pino';
import type { Chart, Reply } from '../core/result.ts';
import { chartFilename, renderChartPng } from '../render/chart.ts';

/** Slack's limit for a file's alt text. */
const MAX_ALT_TEXT = 1000;

export function chartsOf(reply: Pick<Reply, 'parts'>): Chart[] {
  return reply.parts.flatMap((part) => (part.kind === 'chart' ? [part.chart] : []));
}

/**
 * Renders and uploads each chart. A chart is an extra beside the text the thread already has: a
 * chart that cannot be rendered or uploaded is logged and skipped, never an error of the command.
 */
export async function uploadCharts(client: WebClient, reply: Pick<Reply, 'parts'>, channel: string, threadTs: string | undefined, log: Logger | undefined, call: <T>(fn: () => Promise<T>) => Promise<T> = (fn) => fn()): Promise<void> {
  for (const chart of chartsOf(reply)) {
    try {
      const file = await renderChartPng(chart);
      const upload = { channel_id: channel, file, filename: chartFilename(chart), title: chart.title, alt_text: chart.alt.slice(0, MAX_ALT_TEXT) };
      await call(() => client.files.uploadV2(threadTs ? { ...upload, thread_ts: threadTs } : upload));
    } catch (error) {
      log?.warn({ err: (error as Error).message, chart: chart.title }, 'chart not posted (its numbers are in the text)');
    }
  }
}
