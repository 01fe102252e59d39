/**
 * Progress lines for a job's thread: bytes so far, rate and elapsed time, at most every few seconds.
 */
import { performance } from 'node:perf_hooks';
import { formatDuration } from '../../src/core/durations.ts';
import { formatBytes, formatRate } from './names.ts';

export function progressLine(verb: string, bytes: number, elapsedMs: number): string {
  return `${formatBytes(bytes)} ${verb}, ${formatRate(bytes, elapsedMs)}, ${formatDuration(elapsedMs)} elapsed`;
}

/** An onBytes callback that posts a progress line every `everyMs` (the first after `everyMs`). */
export function progressReporter(step: (text: string) => Promise<void>, verb: string, everyMs = 10_000): (bytes: number) => void {
  const t0 = performance.now();
  let last = t0;
  return (bytes) => {
    const now = performance.now();
    if (now - last < everyMs) return;
    last = now;
    void step(progressLine(verb, bytes, now - t0)).catch(() => undefined);
  };
}
