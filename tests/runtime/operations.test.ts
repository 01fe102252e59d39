/**
 * Every registered guarded verb, through the real bot: when what its plan depends on changes
 * between the approval (or confirmation) and the start of its work, the runtime asks again and
 * nothing runs. The operations' own inspect/plan/run are replaced by ones that read a "world"
 * value and count calls, so the test checks the runtime's path for each verb (its registration,
 * its job, a delayed start, an inline run), not each area's Kubernetes or AWS reads (their own
 * tests do that). A verb added without a case here fails the first test.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandModule, JobDefinition, Operation, Verb } from '../../src/core/types.ts';
import { operationJob } from '../../src/core/operation.ts';
import { verbName } from '../../src/core/registry.ts';
import { areaModules } from '../../commands/index.ts';
import { allJobs } from '../../jobs/index.ts';
import { OPS, USERS, startTestBot, type TestBot } from '../harness/bot.ts';

/** The arguments each guarded verb is requested with (valid for the test configuration). */
const AT = new Date(Date.now() + 2 * 3_600_000).toISOString().replace(/\.\d+Z$/, '.000Z');
const CASES: Record<string, string> = {
  'iam setup': '--principals arn:aws:iam::123456789012:root',
  'rotate aws-role': '',
  'rotate github apply': '--staged',
  'rotate google apply': '--staged',
  'rotate jwt': `--at ${AT}`,
  rollback: 'backend broken release',
  restart: 'backend',
  'db restart': '',
  'db migrate': '',
  'ratelimit block': '203.0.113.7 --ttl 1h abuse',
  'ratelimit unblock': '203.0.113.7',
  'tf unlock': '',
  'tf restore': 'abc123',
  'backup restore': 'autostack-20260101-0200.dump --target autostack',
  deploy: 'web v2 release',
  'deploy protected': 'api v2 release',
};

const guardedVerbs = areaModules.flatMap((m) => m.verbs).filter((v) => v.guard !== 'none') as Verb<unknown>[];

/** What the approver types where a verb asks for it (the target's name). */
const TYPED: Record<string, string> = { 'db restart': 'db', 'backup restore': 'autostack' };

/** What the stand-in operations see and do. */
const world = { value: 'A', runs: new Map<string, number>(), inspections: new Map<string, number>() };

function standIn(name: string, real: Operation<unknown, unknown>): Operation<unknown, unknown> {
  return {
    ...real,
    inspect: async () => {
      world.inspections.set(name, (world.inspections.get(name) ?? 0) + 1);
      return { world: world.value };
    },
    plan: (_params, seen) => ({ title: `${name} against world ${(seen as { world: string }).world}`, steps: [`act on ${(seen as { world: string }).world}`], resources: [] }),
    run: async () => {
      world.runs.set(name, (world.runs.get(name) ?? 0) + 1);
      return { summary: `${name} ran`, parts: [], visibility: 'channel' };
    },
  };
}

/** The area modules and jobs with every guarded verb's operation replaced by its stand-in. */
/** Verbs may share an operation (deploy, deploy protected): its stand-in counts under the first one's name. */
const label = new Map<Operation<unknown, unknown>, string>();

function standInBot(): { modules: CommandModule[]; jobs: JobDefinition<any>[] } { // eslint-disable-line @typescript-eslint/no-explicit-any
  const replaced = new Map<Operation<unknown, unknown>, Operation<unknown, unknown>>();
  const modules = areaModules.map((module) => ({
    ...module,
    verbs: module.verbs.map((verb: Verb<unknown>) => {
      if (!verb.operation) return verb;
      if (!label.has(verb.operation)) label.set(verb.operation, verbName(verb));
      const stand = replaced.get(verb.operation) ?? standIn(label.get(verb.operation)!, verb.operation);
      replaced.set(verb.operation, stand);
      return { ...verb, operation: stand };
    }),
  }));
  const jobs = allJobs.map((job) => (job.operation && replaced.has(job.operation) ? operationJob(job.name, replaced.get(job.operation)!) : job));
  return { modules, jobs };
}

const CONFIG = {
  database: { url: 'postgres://autostack@127.0.0.1:1/autostack' },
  deploy: { apps: { web: { deployment: 'web', image: 'registry.example.com/web' }, api: { deployment: 'api', image: 'registry.example.com/api', protected: true } } },
};

describe('every guarded operation is checked again right before it runs', () => {
  let t: TestBot;
  beforeAll(async () => {
    // No workers: jobs wait in the queue until the test has changed the world.
    t = await startTestBot({ ...standInBot(), config: CONFIG, runWorkers: false });
  });
  afterAll(() => t.stop());

  it('has a case for every registered guarded verb', () => {
    expect(guardedVerbs.map(verbName).sort()).toEqual(Object.keys(CASES).sort());
  });

  /** Requests `name` and confirms or approves it; resolves once the decision is handled. */
  async function requestAndDecide(verb: Verb<unknown>, args: string): Promise<void> {
    const name = verbName(verb);
    if (verb.guard === 'confirm') {
      const requester = USERS.operator;
      await t.command(requester, `${name} ${args}`.trim());
      const confirm = await t.eventually(() => t.lastEphemeral(requester), `${name}: confirmation`);
      expect(t.text(confirm)).toContain(`world ${world.value}`);
      await t.click(requester, { channel: OPS, ts: confirm.ts }, 'Confirm');
      return;
    }
    const before = t.messages(OPS).length;
    await t.command(USERS.operator, `${name} ${args}`.trim());
    const request = await t.eventually(() => t.messages(OPS).slice(before).find((m) => t.text(m).includes(`asks to run \`${name}\``)), `${name}: approval message`);
    expect(t.text(request)).toContain(`world ${world.value}`);
    await t.click(USERS.approver, { channel: OPS, ts: request.ts }, 'Approve');
    if (verb.approverMustType) {
      const modal = t.emulator.modalStack(USERS.approver).at(-1)!;
      const answer = await t.emulator.submitView(t.url, { viewId: modal.id, values: { typed: { value: TYPED[name]! } } });
      expect(answer.outcome).not.toBe('errors');
      await t.bot.dispatcher.settled();
    }
  }

  for (const verb of guardedVerbs) {
    const name = verbName(verb);
    const counted = () => label.get(verb.operation!)!;
    it(`${name}: a change between the decision and the start asks again and runs nothing`, async () => {
      world.value = `before-${name}`;
      const asked = () => t.messages(OPS).filter((m) => t.text(m).includes('changed since it was requested')).length + t.ephemeralTexts(USERS.operator).concat(t.ephemeralTexts(USERS.approver)).filter((x) => x.includes('changed since it was requested')).length;
      const askedBefore = asked();
      const inspectedBefore = world.inspections.get(counted()) ?? 0;
      const ranBefore = world.runs.get(counted()) ?? 0;
      if (verb.operation!.inline) {
        // Inline: it runs at the click, so the world changes between the request and the click.
        const requester = USERS.operator;
        await t.command(requester, `${name} ${CASES[name]}`.trim());
        const confirm = await t.eventually(() => t.lastEphemeral(requester), `${name}: confirmation`);
        world.value = `after-${name}`;
        await t.click(requester, { channel: OPS, ts: confirm.ts }, 'Confirm');
      } else {
        await requestAndDecide(verb, CASES[name]!);
        const queued = await t.eventually(async () => (await t.bot.jobs.queue.getJobs(['waiting', 'delayed'])).find((j) => j.opts.jobId?.startsWith('approval-') && !j.finishedOn), `${name}: its queued job`);
        world.value = `after-${name}`;
        // A delayed start (rotate jwt --at) is brought forward; the check is the same.
        if ((await queued.getState()) === 'delayed') await queued.promote();
        await t.bot.jobs.runWorkers(1);
        await t.eventually(async () => (await t.bot.jobs.queue.getJob(queued.id!))?.finishedOn !== undefined, `${name}: the job to end`);
        expect((await t.bot.jobs.queue.getJob(queued.id!))!.failedReason).toMatch(/plan changed/);
        await t.bot.jobs.stopWorkers();
      }
      await t.bot.dispatcher.settled();
      await t.eventually(() => asked() > askedBefore, `${name}: asked again`);
      expect(world.runs.get(counted()) ?? 0).toBe(ranBefore);
      // Asked, decided, and (for a job) again at the start.
      expect((world.inspections.get(counted()) ?? 0) - inspectedBefore).toBeGreaterThanOrEqual(verb.operation!.inline ? 2 : 3);
    });
  }

  it('runs the operation when nothing changed (the stand-ins do count runs)', async () => {
    const verb = guardedVerbs.find((v) => verbName(v) === 'tf unlock')!;
    world.value = 'steady';
    await requestAndDecide(verb, '');
    await t.bot.jobs.runWorkers(1);
    await t.eventually(() => world.runs.get('tf unlock') === 1, 'tf unlock to run');
    await t.bot.jobs.stopWorkers();
  });
});
