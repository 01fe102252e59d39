/**
 * Draws README's example chart (docs/ratelimit-chart.png): the playground's seeded 429 burst as
 * `ratelimit top --since 15m` charts it, at a fixed time so the image only changes with the code.
 * Run: npm run chart-example
 */
import { writeFileSync } from 'node:fs';
import { ingressLine, recentRequests } from '../tests/harness/playground/logs.ts';
import { RateLimitAnalyzer } from '../commands/incident/ratelimit/analyzer.ts';
import { topChart } from '../commands/incident/ratelimit/report.ts';
import { renderChartPng } from '../src/render/chart.ts';

const NOW = new Date('2026-11-28T07:15:00Z');
const WINDOW_MINUTES = 15;

// The ingress controller's lines carry the time and the client, as `ratelimit top` reads them.
const analyzer = new RateLimitAnalyzer({ trustForwardedFor: false, minuteSlots: WINDOW_MINUTES + 1 });
for (const request of recentRequests(NOW)) {
  if (request.time.getTime() >= NOW.getTime() - WINDOW_MINUTES * 60_000) analyzer.candidate(ingressLine(request, '10.42.0.11:8000', 'example'));
}
const chart = topChart(analyzer.summary(), {
  app: 'backend',
  since: `${WINDOW_MINUTES}m`,
  threshold: 100,
  blocks: [{ cidr: '203.0.113.7/32', by: 'U0ALICE', reason: 'credential stuffing', at: new Date(NOW.getTime() - 3 * 60_000).toISOString(), until: new Date(NOW.getTime() + 3_600_000).toISOString(), target: { kind: 'ingress', namespace: 'autostack', name: 'autostack' } }],
});
if (!chart) throw new Error('the playground burst gave no per-minute series');
writeFileSync('docs/ratelimit-chart.png', await renderChartPng(chart));
console.log(`docs/ratelimit-chart.png: ${chart.alt}`);
