/** Test-only guarded verbs that exercise the runtime's confirmation, approval and form paths. */
import type { CommandModule, JobDefinition, Operation, Verb } from '../../src/core/types.ts';
import { UsageError } from '../../src/core/types.ts';
import { reply } from '../../src/core/result.ts';
import { operationJob } from '../../src/core/operation.ts';
import { TargetGoneError } from '../../src/core/gone.ts';
import { allJobs } from '../../jobs/index.ts';
import { pingJob } from '../../jobs/ping.ts';

/**
 * Its plan reads `planKey` from Redis, so a test can change the plan under a pending approval;
 * once approved it runs as the ping demo job does. Start the bot with both: `{ modules: [module], jobs }`.
 */
export function guardedModule(planKey: string): { module: CommandModule; jobs: JobDefinition<any>[] } { // eslint-disable-line @typescript-eslint/no-explicit-any
  const operation: Operation<{ steps: number }, { target: string }> = {
    title: (params) => pingJob.title(params),
    cancellable: true,
    inspect: async (_params, ctx) => {
      const target = (await ctx.clients.redis.get(planKey)) ?? 'target-a';
      // "gone": what it would act on no longer exists (as a released lock).
      if (target === 'gone') throw new TargetGoneError('The target is gone (test fixture); nothing to do.');
      return { target };
    },
    plan: (params, { target }) => ({ title: `Run ${params.steps} steps against ${target}`, steps: [`ping ${params.steps} on ${target}`], resources: [target] }),
    started: () => reply('started'),
    run: (_params, _seen, run) => pingJob.process(run),
  };
  const make = (path: string[], guard: 'approval' | 'confirm', mustType = false): Verb<{ steps: number }> => ({
    path,
    section: 'bot',
    runbookStep: 'test',
    summary: `guarded by ${guard}`,
    usage: '<steps>',
    minRole: 'operator',
    guard,
    positional: { min: 1, max: 1 },
    parse: (args) => {
      const steps = Number(args.positional[0]);
      if (!Number.isInteger(steps) || steps < 1 || steps > 5) throw new UsageError('steps must be 1 to 5');
      return { steps };
    },
    ...(mustType ? { approverMustType: () => ({ label: 'Target database', expected: 'autostack' }) } : {}),
    operation,
  });
  const form: Verb<{ name: string; count: number }> = {
    path: ['form', 'op'],
    section: 'bot',
    runbookStep: 'test',
    summary: 'opens a form without arguments',
    usage: '--name <name> --count <n>',
    minRole: 'operator',
    guard: 'none',
    flags: { name: 'string', count: 'string' },
    form: { title: 'Form op', fields: [{ name: 'name', label: 'Name', initial: 'default-name' }, { name: 'count', label: 'Count' }] },
    parse: (args) => {
      const count = Number(args.flags.count);
      if (!Number.isInteger(count) || count < 1) throw new UsageError('count must be a positive whole number');
      return { name: String(args.flags.name ?? ''), count };
    },
    execute: async (params) => reply(`form ran with ${params.name} x${params.count}`, [], 'channel'),
  };
  // A message whose button requests `danger op` for whoever clicks it.
  const offer: Verb<Record<string, never>> = {
    path: ['offer', 'op'],
    section: 'bot',
    runbookStep: 'test',
    summary: 'posts a button that requests danger op',
    usage: '',
    minRole: 'viewer',
    guard: 'none',
    parse: () => ({}),
    execute: async () =>
      reply('Offer', [{ kind: 'buttons', buttons: [{ label: 'Request danger op', action: 'test.request', value: '2' }, { label: 'Step of danger op', action: 'test.step', value: 'done' }] }], 'channel'),
  };
  const module: CommandModule = {
    area: 'test',
    verbs: [make(['danger', 'op'], 'approval'), make(['careful', 'op'], 'confirm'), make(['typed', 'op'], 'approval', true), form, offer],
    actions: [
      { action: 'test.request', minRole: 'viewer', handle: async (value, ctx) => void (await ctx.request(['danger', 'op'], { positional: [value], flags: {} })) },
      // A step of danger op's work with no verb of its own: it writes `${planKey}:step`.
      { action: 'test.step', minRole: 'viewer', stepOf: ['danger', 'op'], handle: async (value, ctx) => void (await ctx.clients.redis.set(`${planKey}:step`, value)) },
    ],
  };
  return { module, jobs: [...allJobs, operationJob('test-op', operation)] };
}

/** The bot options that load guardedModule(planKey) and its job. */
export function guarded(planKey: string): { modules: CommandModule[]; jobs: JobDefinition<any>[] } { // eslint-disable-line @typescript-eslint/no-explicit-any
  const { module, jobs } = guardedModule(planKey);
  return { modules: [module], jobs };
}
