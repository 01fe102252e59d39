/**
 * Counts one log file on several cores. The file is cut into blocks of `blockBytes`; each thread
 * (this one and the workers, see file-worker.ts) claims the next unclaimed block from a shared
 * counter and counts the lines that start in it through its own `RateLimitAnalyzer`; the workers'
 * counts are merged into this thread's at the end. Claiming blocks instead of owning fixed ranges
 * means this thread starts counting at once and a worker joins when it has started (tens of
 * milliseconds): no thread waits for a slower one. The answer equals one analyzer reading the whole
 * file while the client table holds every client (see SpaceSaving.merge for the bounds past that).
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
/**
 * A worker's young generation (V8's default grows to tens of MB under the counter's steady
 * allocation; each worker's heap is its own): a small one keeps the process's memory bounded.
 */
const WORKER_YOUNG_GENERATION_MB = 4;
/** Small enough that threads finish together, large enough that claiming a block costs nothing. */
export const DEFAULT_BLOCK_BYTES = 8 << 20;

export interface FileRange {
  start: number;
  end: number;
}

/** The first line start at or after `at` (the file's size when no line starts there). */
function lineStartFrom(fd: number, at: number, size: number, buffer: Buffer): number {
  if (at <= 0) return 0;
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

/**
 * The lines of block `index`: from the first line start at or after the block's first byte to the
 * first line start at or after the next block's. Neighbouring blocks compute their shared edge
 * alike, so every line belongs to exactly one block (a line longer than a block to the block it
 * starts in; later blocks inside it are empty).
 */
export function blockLines(fd: number, index: number, blockBytes: number, size: number): FileRange {
  const probe = Buffer.allocUnsafe(4096);
  const start = lineStartFrom(fd, Math.min(size, index * blockBytes), size, probe);
  const end = lineStartFrom(fd, Math.min(size, (index + 1) * blockBytes), size, probe);
  return { start, end: Math.max(start, end) };
}

/** What a counting thread needs to take part: the file, the block size and the shared counter. */
export interface BlockWork {
  file: string;
  size: number;
  blockBytes: number;
  /** Int32Array over a SharedArrayBuffer: the next unclaimed block. */
  next: Int32Array;
}

const blockCount = (work: BlockWork) => Math.ceil(work.size / work.blockBytes);

/** Counts blocks claimed from `work.next` into `analyzer` until none is left. */
export async function countClaimedBlocks(analyzer: RateLimitAnalyzer, work: BlockWork): Promise<void> {
  const blocks = blockCount(work);
  const fd = openSync(work.file, 'r');
  try {
    for (let index = Atomics.add(work.next, 0, 1); index < blocks; index = Atomics.add(work.next, 0, 1)) {
      const lines = blockLines(fd, index, work.blockBytes, work.size);
      if (lines.end > lines.start) await analyzer.consumeRange(fd, lines.start, lines.end - lines.start);
      // A turn for the event loop between blocks (consumeRange gives one only every 16 MiB).
      await new Promise((resolve) => setImmediate(resolve));
    }
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
  const resourceLimits = { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB };
  if (!self.endsWith('.ts')) return new Worker(url, { workerData, resourceLimits });
  const tsx = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(url.href)}); })`;
  return new Worker(bootstrap, { eval: true, workerData, resourceLimits });
}

/** Counts the blocks a new worker thread claims from `work.next`; resolves with its counts. */
export function countInWorker(work: BlockWork, options: AnalyzerOptions): Promise<AnalyzerState> {
  return new Promise((resolve, reject) => {
    const worker = startWorker({ ...work, options });
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
  /** Bytes per claimed block (default DEFAULT_BLOCK_BYTES). */
  blockBytes?: number;
}

/** Counts `file` on several threads and returns the analyzer holding the merged counts. */
export async function analyzeFile(file: string, options: AnalyzerOptions, parallel: ParallelOptions = {}): Promise<RateLimitAnalyzer> {
  const analyzer = new RateLimitAnalyzer(options);
  const fd = openSync(file, 'r');
  const size = fstatSync(fd).size;
  closeSync(fd);
  const blockBytes = parallel.blockBytes ?? DEFAULT_BLOCK_BYTES;
  if (!Number.isInteger(blockBytes) || blockBytes < 1) throw new RangeError('blockBytes must be a positive integer');
  const wanted = size >= (parallel.minBytes ?? MIN_PARALLEL_BYTES) ? (parallel.threads ?? Math.min(4, availableParallelism())) : 1;
  const work: BlockWork = { file, size, blockBytes, next: new Int32Array(new SharedArrayBuffer(4)) };
  const threads = Math.max(1, Math.min(wanted, blockCount(work)));
  const workers = Array.from({ length: threads - 1 }, () => countInWorker(work, options));
  // Settle every worker even when this thread's part fails, so none is left unobserved.
  const states = Promise.allSettled(workers);
  try {
    await countClaimedBlocks(analyzer, work);
  } catch (error) {
    // The workers stop at their next claim.
    Atomics.store(work.next, 0, blockCount(work));
    throw error;
  }
  for (const result of await states) {
    if (result.status === 'rejected') throw result.reason;
    analyzer.merge(result.value);
  }
  return analyzer;
}
