/**
 * Real CommandContexts and JobRuns for testing a module's verbs and jobs directly, with the
 * clients pointed at the harness's services (moto, the test Redis, the test Kubernetes control plane, ...).
 * For the full path through Slack, use startTestBot() from bot.ts.
 */
import { pino } from 'pino';
import type { KubeConfig } from '@kubernetes/client-node';
import { WebClient } from '@slack/web-api';
import { parseConfig, type Config } from '../../src/config.ts';
import { createClients, kubeClientsFrom } from '../../src/clients.ts';
import { createSecretBox, randomSecretKey } from '../../src/core/secrets.ts';
import type { ActionContext, Actor, Args, AuditEntry, AuditLog, Clients, Clock, CommandContext, JobDefinition, JobLauncher, JobRef, JobRun, JobStartOptions, OperationStage, Plan, Role, Verb } from '../../src/core/types.ts';
import { inspectAndPlan } from '../../src/core/operation.ts';
import type { Attachment, Button, Chart, Reply } from '../../src/core/result.ts';
import { redisConnection, testServices, uniqueName } from './env.ts';
import { slackNotifier } from '../../src/slack/notifier.ts';

export interface TestContextOptions {
  /** Raw configuration (YAML-shaped) over the defaults. */
  config?: Record<string, unknown>;
  role?: Role | null;
  userId?: string;
  channel?: string;
  kube?: KubeConfig;
  http?: typeof fetch;
  clock?: Clock;
  /** A Slack client (e.g. one pointed at a SlackEmulator); default: one that is never reached. */
  slack?: WebClient;
}

export interface StartedJob {
  name: string;
  data: unknown;
  options: JobStartOptions;
}

export interface RequestedVerb {
  path: readonly string[];
  args: Args;
}

/** A command context that also serves as a button's context (requests are recorded, not run). */
export interface TestContext extends ActionContext {
  /** Verbs a button handler requested for the clicking person. */
  requested: RequestedVerb[];
  /** Every audit entry recorded through this context. */
  audited: AuditEntry[];
  /** Jobs the handler started (recorded, not run: run them with runJob). */
  started: StartedJob[];
}

export function testConfig(raw: Record<string, unknown> = {}): Config {
  const services = testServices();
  const aws = { endpoint: services.awsEndpoint, region: 'us-east-1', s3ForcePathStyle: true, ...((raw.aws as object) ?? {}) };
  return parseConfig({ ...raw, aws }, {});
}

export function testContext(options: TestContextOptions = {}): TestContext {
  const config = testConfig(options.config);
  const slack = options.slack ?? new WebClient('xoxb-unused', { slackApiUrl: 'http://127.0.0.1:9/api/' });
  const clients: Clients = createClients(config, redisConnection(), slackNotifier(slack), {
    http: options.http,
    clock: options.clock,
    ...(options.kube ? { kube: () => kubeClientsFrom(options.kube!) } : {}),
  });
  const audited: AuditEntry[] = [];
  const started: StartedJob[] = [];
  const requested: RequestedVerb[] = [];
  const audit: AuditLog = { record: async (entry) => (audited.push(entry), 'stored') };
  const jobs: JobLauncher = {
    async start(name, data, startOptions): Promise<JobRef> {
      started.push({ name, data, options: startOptions });
      return { id: `${name}-${started.length}`, channel: startOptions.channel, existing: false };
    },
    permalink: async () => undefined,
    // Jobs this launcher was asked to start never run here: each stays waiting, newest first.
    recent: async (limit = 15) =>
      started
        .map((job, i) => ({ id: `${job.name}-${i + 1}`, title: job.name, state: 'waiting', requestedBy: job.options.requestedBy, channel: job.options.channel }))
        .reverse()
        .slice(0, limit),
  };
  const actor: Actor = { id: options.userId ?? 'U0TESTER', role: options.role === undefined ? 'approver' : options.role };
  return {
    actor,
    channel: options.channel ?? 'C0TEST',
    config,
    clients,
    jobs,
    audit,
    secrets: createSecretBox(randomSecretKey()),
    log: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    audited,
    started,
    requested,
    request: async (path, args) => void requested.push({ path, args }),
  };
}

export interface JobResult {
  reply: Reply;
  steps: string[];
  asked: Array<{ text: string; buttons: Button[] }>;
  attachments: Attachment[];
  charts: Chart[];
}

/** What testJobRun lets a test choose; the rest comes from the context. */
export type TestJobRunOptions = Partial<Pick<JobRun, 'id' | 'signal' | 'step' | 'ask' | 'attach' | 'chart'>>;

/**
 * A JobRun as the job system builds it, from `ctx`: a fresh id, a signal that never aborts and
 * step, ask, attach and chart that do nothing, unless `options` gives them.
 */
export function testJobRun<D>(data: D, ctx: CommandContext, options: TestJobRunOptions = {}): JobRun<D> {
  return {
    id: uniqueName('job'),
    data,
    requestedBy: ctx.actor.id,
    channel: ctx.channel,
    thread: async () => undefined,
    signal: new AbortController().signal,
    config: ctx.config,
    clients: ctx.clients,
    secrets: ctx.secrets,
    audit: ctx.audit,
    jobs: ctx.jobs,
    log: ctx.log,
    step: async () => undefined,
    ask: async () => undefined,
    attach: async () => undefined,
    chart: async () => undefined,
    ...options,
  };
}

/** A guarded verb's plan as the runtime computes it (inspect, then plan) for the person in `ctx`. */
export async function planOf<P>(verb: Verb<P>, params: P, ctx: CommandContext, stage: OperationStage = 'request'): Promise<Plan> {
  if (!verb.operation) throw new Error(`${verb.path.join(' ')} has no operation`);
  return (await inspectAndPlan(verb.path.join(' '), verb.operation, params, { ...ctx, stage })).plan;
}

/** Does what a guarded verb does once confirmed, right away (an inline operation's path): inspect, then run. */
export async function runOperation<P>(verb: Verb<P>, params: P, ctx: TestContext): Promise<Reply> {
  if (!verb.operation) throw new Error(`${verb.path.join(' ')} has no operation`);
  const seen = await verb.operation.inspect(params, { ...ctx, stage: 'start' });
  return verb.operation.run(params, seen, testJobRun(params, ctx));
}

/**
 * Runs a job definition's process with a recording JobRun built from `ctx`. Rejects like the job
 * does. An operation's job gets the plan as it is now as its approved plan (so it runs unless the
 * world changes in between, e.g. inside `beforeRun`).
 */
export interface RunJobOptions {
  signal?: AbortSignal;
  /** The job's id (e.g. the token a lock was taken with before it was queued). */
  id?: string;
  /** Runs after the approval was computed and before the job starts (to change the world in between). */
  beforeRun?: () => Promise<void>;
  /** Called with each progress line as the job reports it (to change the world at a given step). */
  onStep?: (text: string) => Promise<void>;
}

export async function runJob<D>(definition: JobDefinition<D>, data: D, ctx: TestContext, options: RunJobOptions | AbortSignal = {}): Promise<JobResult> {
  const { signal = new AbortController().signal, id, beforeRun, onStep } = options instanceof AbortSignal ? { signal: options } : options;
  const steps: string[] = [];
  const asked: JobResult['asked'] = [];
  const attachments: Attachment[] = [];
  const charts: Chart[] = [];
  const run = testJobRun(data, ctx, {
    ...(id ? { id } : {}),
    signal,
    step: async (text) => {
      // As the job wrote it: a string as is, built mrkdwn as Slack receives it.
      const line = typeof text === 'string' ? text : text.mrkdwn;
      steps.push(line);
      await onStep?.(line);
    },
    ask: async (text, buttons) => void asked.push({ text: typeof text === 'string' ? text : text.mrkdwn, buttons }),
    attach: async (file) => void attachments.push(file),
    chart: async (chart) => void charts.push(chart),
  });
  if (definition.operation) {
    const { hash } = await inspectAndPlan(definition.name, definition.operation, data, { ...ctx, stage: 'decision' });
    run.approved = { verb: definition.name, hash };
  }
  await beforeRun?.();
  const reply = await definition.process(run);
  return { reply, steps, asked, attachments, charts };
}
