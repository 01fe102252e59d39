/** The demo job: N progress steps, one a second, cancellable. */
import { setTimeout as sleep } from 'node:timers/promises';
import type { JobDefinition } from '../src/core/types.ts';
import { reply } from '../src/core/result.ts';
import { PING_JOB } from '../commands/core/index.ts';
import type { PingData } from '../commands/core/index.ts';

export const PING_STEP_MS = 1000;

export const pingJob: JobDefinition<PingData> = {
  name: PING_JOB,
  title: (data) => `Ping with ${data.steps} steps`,
  cancellable: true,
  async process(run) {
    for (let i = 1; i <= run.data.steps; i++) {
      // Node's timer removes its abort listener when the wait ends: a step leaves nothing on the job's signal.
      await sleep(PING_STEP_MS, undefined, { signal: run.signal });
      await run.step(`Step ${i}/${run.data.steps} done`);
    }
    return reply(`pong after ${run.data.steps} steps`, [], 'channel');
  },
};
