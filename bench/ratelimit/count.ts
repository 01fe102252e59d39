/**
 * The bot's side of the benchmark, run as its own process so its peak memory is its own: reads an
 * access log file as a stream through the same analyzer `ratelimit top` uses and prints JSON.
 *
 *   node --import tsx bench/ratelimit/count.ts <file> [--bytes N]
 */
import { RateLimitAnalyzer } from '../../commands/incident/ratelimit/analyzer.ts';

const file = process.argv[2];
if (!file) {
  console.error('usage: count.ts <file> [--bytes N]');
  process.exit(2);
}
const bytesIndex = process.argv.indexOf('--bytes');
const limit = bytesIndex === -1 ? undefined : Number(process.argv[bytesIndex + 1]);

const started = process.hrtime.bigint();
const analyzer = new RateLimitAnalyzer({ trustForwardedFor: false });
await analyzer.consumeFile(file, limit ? { limitBytes: limit } : {});
const summary = analyzer.summary(10, 5);
const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;

console.log(
  JSON.stringify({
    elapsedMs,
    bytes: summary.bytes,
    candidates: summary.candidates,
    total429: summary.total429,
    unparseable: summary.unparseable,
    exact: summary.exact,
    distinctClients: summary.distinctClients,
    top: summary.offenders.map((o) => ({ ip: o.key, count: o.count, error: o.error })),
    // KB on Linux.
    maxRssKb: process.resourceUsage().maxRSS,
  }),
);
