/**
 * A job starts without waiting for Slack: the launcher queues it before it posts the parent
 * message, and the worker writes nothing to Slack before the job's first line. The thread's
 * lines wait for the parent instead and arrive under it, in order. When Slack does not take the
 * launcher's parent message, the job still runs and its worker posts the parent itself.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobPayload } from '../../src/core/jobs.ts';
import { reply } from '../../src/core/result.ts';
import type { JobDefinition } from '../../src/core/types.ts';
import { OPS, USERS, startTestBot, type TestBot } from '../harness/bot.ts';
import { uniqueName } from '../harness/env.ts';

/** Each probe run's first line: resolves the test's promise for its key. */
const firstLines = new Map<string, () => void>();

const probeJob: JobDefinition<{ key: string }> = {
  name: 'probe',
  title: () => 'Probe',
  cancellable: false,
  async process(run) {
    firstLines.get(run.data.key)?.();
    for (let i = 1; i <= 4; i++) await run.step(`line ${i}`);
    return reply('probe done');
  },
};

let t: TestBot;
beforeAll(async () => {
  t = await startTestBot({ modules: [], jobs: [probeJob] });
});
afterAll(() => t?.stop());

function probe(): { key: string; begun: Promise<void> } {
  const key = uniqueName('probe');
  return { key, begun: new Promise<void>((resolve) => firstLines.set(key, resolve)) };
}

async function finished(id: string): Promise<JobPayload> {
  const job = await t.eventually(async () => {
    const found = await t.bot.jobs.queue.getJob(id);
    return found?.finishedOn !== undefined && found;
  }, 'the probe job finishing');
  expect(await job.getState()).toBe('completed');
  return job.data as JobPayload;
}

/** The thread's lines in the order Slack received them, then the parent's final text. */
async function threadOf(parentTs: string): Promise<{ lines: string[]; parent: string }> {
  const lines = await t.eventually(() => {
    const texts = t.emulator.thread(OPS, parentTs).map((m) => t.text(m));
    return texts.some((text) => text.includes('probe done')) && texts;
  }, 'the result in the thread');
  const parent = await t.eventually(() => {
    const text = t.text(t.emulator.message(OPS, parentTs)!);
    return text.includes('Succeeded') && text;
  }, 'the parent saying Succeeded');
  return { lines: lines.flatMap((text) => text.split('\n')), parent };
}

describe('job pickup', () => {
  it("runs the job's first line while Slack still holds the answer to the parent message, then delivers the lines under it in order", async () => {
    const { key, begun } = probe();
    const postsBefore = t.emulator.calls('chat.postMessage').length;
    t.emulator.failNext('chat.postMessage', { held: true });
    let startReturned = false;
    const starting = t.bot.jobs.start('probe', { key }, { channel: OPS, requestedBy: USERS.operator }).then((ref) => {
      startReturned = true;
      return ref;
    });
    await begun;
    // The processor ran although the parent's post was not answered, so jobs.start had not returned.
    expect(startReturned).toBe(false);
    // The parent's post reaches Slack (queued first, it may arrive after the processor began) and stays unanswered.
    const posts = await t.eventually(() => {
      const made = t.emulator.calls('chat.postMessage').slice(postsBefore);
      return made.length > 0 && made;
    }, 'the parent message reaching Slack');
    expect(posts.map((call) => call.args.thread_ts)).toEqual([undefined]);
    expect(startReturned).toBe(false);
    t.emulator.releaseHeld();
    const ref = await starting;
    expect(ref.threadTs).toBeDefined();

    const data = await finished(ref.id);
    expect(data.meta.parentTs).toBe(ref.threadTs);
    expect(data.meta.startedAt).toBeGreaterThan(0);
    const { lines, parent } = await threadOf(ref.threadTs!);
    expect(lines.filter((line) => /^line \d$/.test(line))).toEqual(['line 1', 'line 2', 'line 3', 'line 4']);
    expect(lines.at(-1)).toContain('probe done');
    expect(parent).toContain('Probe');
    // One parent message: the worker did not post a second one.
    expect(t.emulator.calls('chat.postMessage').slice(postsBefore).filter((call) => call.args.thread_ts === undefined)).toHaveLength(1);
  });

  it("runs the job when Slack refuses the launcher's parent message: the worker posts the parent and the lines go under it", async () => {
    const { key, begun } = probe();
    const postsBefore = t.emulator.calls('chat.postMessage').length;
    t.emulator.failNext('chat.postMessage', { error: 'internal_error' });
    const ref = await t.bot.jobs.start('probe', { key }, { channel: OPS, requestedBy: USERS.operator });
    expect(ref.threadTs).toBeUndefined();
    await begun;

    const data = await finished(ref.id);
    const parentTs = data.meta.parentTs!;
    expect(parentTs).toBeDefined();
    const { lines } = await threadOf(parentTs);
    expect(lines.filter((line) => /^line \d$/.test(line))).toEqual(['line 1', 'line 2', 'line 3', 'line 4']);
    const topLevel = t.emulator.calls('chat.postMessage').slice(postsBefore).filter((call) => call.args.thread_ts === undefined);
    expect(topLevel.map((call) => call.ok)).toEqual([false, true]);
  });
});
