/** A worker thread of `analyzeFile` (parallel.ts): counts one line-aligned range of a log file. */
import { parentPort, workerData } from 'node:worker_threads';
import { RateLimitAnalyzer } from './analyzer.ts';
import type { AnalyzerOptions } from './analyzer.ts';
import type { FileRange } from './parallel.ts';

const { file, range, options } = workerData as { file: string; range: FileRange; options: AnalyzerOptions };
const analyzer = new RateLimitAnalyzer(options);
await analyzer.consumeFile(file, { start: range.start, limitBytes: range.end - range.start });
parentPort!.postMessage(analyzer.state());
