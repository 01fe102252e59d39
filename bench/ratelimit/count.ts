/**
 * The bot's side of the benchmark, run as its own process so its peak memory is its own: reads an
 * access log file as a stream through the same analyzer `ratelimit top` uses and prints JSON.
 *
 *   node --import tsx bench/ratelimit/count.ts <file> [--threads N]
 *
 * --threads 1 counts on this thread only; the default uses the cores available (at most 4).
 */
import { analyzeFile } from '../../commands/incident/ratelimit/parallel.ts';

const file = process.argv[2];
if (!file) {
  console.error('usage: count.ts <file> [--threads N]');
  process.exit(2);
}
const threadsIndex = process.argv.indexOf('--threads');
const threads = threadsIndex === -1 ? undefined : Number(process.argv[threadsIndex + 1]);

const started = process.hrtime.bigint();
const analyzer = await analyzeFile(file, { trustForwardedFor: false }, threads === undefined ? {} : { threads });
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
    // KB on Linux; the whole process, worker threads included.
    maxRssKb: process.resourceUsage().maxRSS,
  }),
);
