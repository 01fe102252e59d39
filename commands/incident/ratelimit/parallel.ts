/**
 * Counts one log file on several cores: the file is cut into line-aligned ranges, each range is
 * counted by its own `RateLimitAnalyzer` (the first on this thread, the others in worker threads,
 * see file-worker.ts), and the workers' counts are merged into the first. The answer equals one
 * analyzer reading the whole file while the client table holds every client (see
 * SpaceSaving.merge for the bounds past that).
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { RateLimitAnalyzer } from './analyzer.ts';
import type { AnalyzerOptions, AnalyzerState } from './analyzer.ts';

/** Below this a file is counted on one thread: starting a worker costs more than it saves. */
export const MIN_PARALLEL_BYTES = 16 << 20;

export interface FileRange {
  start: number;
  end: number;
}

/** The first line start at or after `at` (the file's size when no line starts there). */
function lineStartFrom(fd: number, at: number, size: number): number {
  if (at <= 0) return 0;
  const buffer = Buffer.allocUnsafe(64 * 1024);
  // A line starts at `at` when the byte before it ends one.
  let position = at - 1;
  while (position < size) {
    const read = readSync(fd, buffer, 0, buffer.length, position);
    if (read === 0) break;
    const nl = buffer.subarray(0, read).indexOf(0x0a);
    if (nl !== -1) return position + nl + 1;
    position += read;
  }
  return size;
}

/** `parts` ranges of about equal size covering the file, each starting at a line start. */
export function lineRanges(file: string, parts: number): FileRange[] {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const starts = [0];
    for (let i = 1; i < parts; i++) {
      const start = lineStartFrom(fd, Math.floor((size * i) / parts), size);
      if (start > starts[starts.length - 1]! && start < size) starts.push(start);
    }
    return starts.map((start, i) => ({ start, end: starts[i + 1] ?? size }));
  } finally {
    closeSync(fd);
  }
}

/**
 * A worker running file-worker beside this module, in the same form: JavaScript when built, and
 * TypeScript through tsx in development (a worker does not inherit the loader of its parent, so
 * a small bootstrap registers it first).
 */
function startWorker(workerData: unknown): Worker {
  const self = fileURLToPath(import.meta.url);
  const url = new URL(`./file-worker${path.extname(self)}`, import.meta.url);
  if (!self.endsWith('.ts')) return new Worker(url, { workerData });
  const tsx = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(url.href)}); })`;
  return new Worker(bootstrap, { eval: true, workerData });
}

function countInWorker(file: string, range: FileRange, options: AnalyzerOptions): Promise<AnalyzerState> {
  return new Promise((resolve, reject) => {
    const worker = startWorker({ file, range, options });
    let settled = false;
    worker.once('message', (state: AnalyzerState) => {
      settled = true;
      resolve(state);
    });
    worker.once('error', (error) => {
      settled = true;
      reject(error);
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new Error(`log counting worker stopped (exit code ${code}) before answering`));
    });
  });
}

export interface ParallelOptions {
  /** Threads counting at once, this one included (default: the cores available, at most 4). */
  threads?: number;
  /** Smaller files are counted on this thread alone (default MIN_PARALLEL_BYTES). */
  minBytes?: number;
}

/** Counts `file` on several threads and returns the analyzer holding the merged counts. */
export async function analyzeFile(file: string, options: AnalyzerOptions, parallel: ParallelOptions = {}): Promise<RateLimitAnalyzer> {
  const threads = parallel.threads ?? Math.min(4, availableParallelism());
  const analyzer = new RateLimitAnalyzer(options);
  const fd = openSync(file, 'r');
  const size = fstatSync(fd).size;
  closeSync(fd);
  const ranges = threads > 1 && size >= (parallel.minBytes ?? MIN_PARALLEL_BYTES) ? lineRanges(file, threads) : [{ start: 0, end: size }];
  const [own, ...others] = ranges;
  const workers = others.map((range) => countInWorker(file, range, options));
  // Settle every worker even when this thread's part fails, so none is left unobserved.
  const states = Promise.allSettled(workers);
  await analyzer.consumeFile(file, { start: own!.start, limitBytes: own!.end - own!.start });
  for (const result of await states) {
    if (result.status === 'rejected') throw result.reason;
    analyzer.merge(result.value);
  }
  return analyzer;
}
