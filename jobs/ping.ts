/** The demo job: N progress steps, one a second, cancellable. */
import type { JobDefinition } from '../src/core/types.ts';
import { reply } from '../src/core/result.ts';
import { PING_JOB } from '../commands/core/index.ts';
import type { PingData } from '../commands/core/index.ts';

export const PING_STEP_MS = 1000;

/** Waits `ms` unless cancelled; its abort listener leaves the job's signal when the wait ends. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new Error('cancelled'));
    const onAbort = () => {
      clearTimeout(timer);
      reject(new Error('cancelled'));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export const pingJob: JobDefinition<PingData> = {
  name: PING_JOB,
  title: (data) => `Ping with ${data.steps} steps`,
  cancellable: true,
  async process(run) {
    for (let i = 1; i <= run.data.steps; i++) {
      await pause(PING_STEP_MS, run.signal);
      await run.step(`Step ${i}/${run.data.steps} done`);
    }
    return reply(`pong after ${run.data.steps} steps`, [], 'channel');
  },
};
