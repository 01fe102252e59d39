/** A worker thread of `analyzeFile` (parallel.ts): counts the blocks of a log file it claims. */
import { parentPort, workerData } from 'node:worker_threads';
import { RateLimitAnalyzer } from './analyzer.ts';
import type { AnalyzerOptions } from './analyzer.ts';
import { countClaimedBlocks } from './parallel.ts';
import type { BlockWork } from './parallel.ts';

const { options, ...work } = workerData as BlockWork & { options: AnalyzerOptions };
const analyzer = new RateLimitAnalyzer(options);
await countClaimedBlocks(analyzer, work);
parentPort!.postMessage(analyzer.state());
