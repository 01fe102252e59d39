/**
 * The demo job's waits leave no abort listener on the job's signal (one per step once crossed
 * Node's limit of ten: the MaxListenersExceededWarning the acknowledgement benchmark printed).
 */
import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { pingJob } from '../../jobs/ping.ts';
import { testContext, testJobRun } from '../harness/context.ts';

describe('ping job', () => {
  it('leaves no abort listener on the job signal after its steps, and stops at once when cancelled', async () => {
    const ctx = testContext();
    const steps: string[] = [];
    const controller = new AbortController();
    const run = testJobRun({ steps: 2 }, ctx, { signal: controller.signal, step: async (text) => void steps.push(String(text)) });
    const result = await pingJob.process(run);
    expect(result.summary).toBe('pong after 2 steps');
    expect(steps).toEqual(['Step 1/2 done', 'Step 2/2 done']);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);

    const cancelled = pingJob.process(testJobRun({ steps: 5 }, ctx, { signal: controller.signal, step: async (text) => void steps.push(String(text)) }));
    controller.abort();
    await expect(cancelled).rejects.toThrow();
    expect(steps).toHaveLength(2);
  });
});
