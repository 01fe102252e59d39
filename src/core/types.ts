/**
 * The contracts between the runtime (src/), the command modules (commands/) and the job
 * processors (jobs/). Command and job code sees only these types: never Bolt, never a transport.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { IAMClient } from '@aws-sdk/client-iam';
import type { S3Client } from '@aws-sdk/client-s3';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { STSClient } from '@aws-sdk/client-sts';
import type { WAFV2Client } from '@aws-sdk/client-wafv2';
import type { AppsV1Api, BatchV1Api, CoreV1Api, KubeConfig, NetworkingV1Api } from '@kubernetes/client-node';
import type { Config } from '../config.ts';
import type { Attachment, Button, Chart, Part, Reply } from './result.ts';
import type { Text } from './text.ts';
import { plainText } from './text.ts';
import type { Notifier } from './notifier.ts';

export const ROLES = ['viewer', 'operator', 'approver'] as const;
export type Role = (typeof ROLES)[number];

/** How a command protects what it does. */
export type Guard = 'none' | 'confirm' | 'approval';

/** Runbook sections, in the runbook's order; help groups commands by these. */
export const SECTIONS = {
  iam: 'IAM Setup',
  rotation: 'Credential Rotation',
  incident: 'Incident Response',
  monitoring: 'Monitoring & Alerts',
  backup: 'Backup & Recovery',
  deploy: 'Deployment Procedures',
  bot: 'Bot',
} as const;
export type Section = keyof typeof SECTIONS;

export interface Actor {
  /** Immutable Slack user ID; never a display name. */
  id: string;
  role: Role | null;
  /** Why the role may be lower than granted: user groups that could not be read (fail closed). */
  roleNote?: string;
}

export interface Clock {
  now(): Date;
}

export interface AwsClients {
  iam: IAMClient;
  s3: S3Client;
  dynamodb: DynamoDBClient;
  sts: STSClient;
  wafv2: WAFV2Client;
}

export interface KubeClients {
  config: KubeConfig;
  core: CoreV1Api;
  apps: AppsV1Api;
  batch: BatchV1Api;
  networking: NetworkingV1Api;
}

/** Every outside system, injected so tests swap endpoints rather than functions. */
export interface Clients {
  /** AWS clients; with a configured role to assume, the session is named after `onBehalfOf`. */
  aws(onBehalfOf?: string): AwsClients;
  /** Kubernetes clients; throws a clear error when no cluster is configured. */
  kube(): KubeClients;
  redis: Redis;
  /** Background writes to Slack (the only way commands and jobs post); replies go through the Surface. */
  notify: Notifier;
  http: typeof fetch;
  clock: Clock;
}

/** Seals values that must pass through Redis (job data, pending forms) so none is stored in clear. */
export interface SecretBox {
  seal(plain: string): string;
  open(sealed: string): string;
}

export interface AuditEntry {
  actor: string;
  action: string;
  args?: Record<string, unknown>;
  result: string;
  channel?: string;
  detail?: string;
}

/** Where an audit entry went: the audit stream, or the local spool (Redis unreachable) until Redis is back. */
export type AuditWritten = 'stored' | 'spooled';

export interface AuditLog {
  /** Throws when the entry could be neither stored nor spooled. */
  record(entry: AuditEntry): Promise<AuditWritten>;
  /** The newest entries, newest first (the runtime's audit stream has them; small test logs may not). */
  latest?(count: number): Promise<Array<AuditEntry & { id: string; at: string }>>;
}

export interface JobStartOptions {
  channel: string;
  requestedBy: string;
  /** Reply in this thread instead of starting a new parent message. */
  threadTs?: string;
  /** A job with the same id is never enqueued twice (approvals use their own id). */
  jobId?: string;
  /** Run later (ms). */
  delayMs?: number;
  /** Set by the runtime only, for an operation's job: the confirmed or approved plan it must match when it starts. */
  approved?: ApprovedPlan;
}

/** A confirmed or approved plan, as the runtime hands it to the operation's job. */
export interface ApprovedPlan {
  /** The verb that asked (e.g. 'tf unlock'), to ask again if the plan changed. */
  verb: string;
  hash: string;
}

export interface JobRef {
  id: string;
  channel: string;
  threadTs?: string;
  /** True when a job with that id already existed and nothing new was enqueued. */
  existing: boolean;
}

export interface JobLauncher {
  start<D>(name: string, data: D, options: JobStartOptions): Promise<JobRef>;
  permalink(channel: string, ts: string): Promise<string | undefined>;
  /** The newest jobs, running ones included (the runtime's job system has it; small test launchers may not). */
  recent?(limit?: number): Promise<Array<{ id: string; title: string; state: string; requestedBy: string; channel: string; parentTs?: string; startedAt?: number }>>;
}

/** What the runtime gives every handler, job and HTTP route. */
export interface RuntimeDeps {
  config: Config;
  clients: Clients;
  jobs: JobLauncher;
  audit: AuditLog;
  secrets: SecretBox;
  log: Logger;
}

/** What every handler receives. */
export interface CommandContext extends RuntimeDeps {
  actor: Actor;
  channel: string;
}

/** Tokenized command line after the verb path. */
export interface Args {
  positional: string[];
  flags: Record<string, string | true>;
}

export interface Plan {
  /** One line: what this does. */
  title: string;
  /** Exactly what will run, in order, with the arguments. */
  steps: string[];
  /** What it touches (ARNs, object keys, workloads). */
  resources: string[];
  warnings?: string[];
}

export interface FormField {
  /** Flag name the value is passed as (`--name value`). */
  name: string;
  label: string;
  initial?: string;
  optional?: boolean;
  multiline?: boolean;
  hint?: string;
  /** A choice among these (a select) instead of typed text. */
  options?: Choice[];
}

/** One entry of a select: what is shown, and the arguments it stands for, as they would be typed. */
export interface Choice {
  label: string;
  value: string;
}

export interface Verb<P = unknown> {
  /** Words after /autostack, e.g. ['tf', 'unlock']. */
  path: readonly string[];
  section: Section;
  /** The runbook step it replaces, quoted in help and README. */
  runbookStep: string;
  summary: string;
  /** Arguments after the path, e.g. '[state] [--force]'. */
  usage: string;
  /** The arguments of a typical call, shown after the usage when arguments are wrong, e.g. 'backend 1.4.2'. */
  example?: string;
  minRole: Role;
  guard: Guard;
  positional?: { min: number; max: number };
  flags?: Record<string, 'string' | 'boolean'>;
  /** Invoked without arguments, the command opens this form (a modal) instead. */
  form?: { title: string; fields: FormField[] };
  /**
   * Invoked without its required argument, the command opens a modal to pick it among `choices`
   * (read when asked) instead of answering with the usage; the pick runs it as if typed. `choices`
   * throws a UserFacingError to say why there is nothing to pick.
   */
  picker?: {
    label: string;
    choices(ctx: CommandContext): Promise<Choice[]>;
    /** For an optional argument: whether leaving it out opens the picker too (e.g. more than one Terraform state to choose from). */
    whenOmitted?(config: Config): boolean;
  };
  /** Validates and converts; throws UsageError with a specific message. Must not call out. */
  parse(args: Args, ctx: { config: Config; actor: Actor }): P;
  /** With approval: the approver must type this value (e.g. the target database) to approve. */
  approverMustType?(params: P): { label: string; expected: string };
  /** Guard 'none' only: answers the command. */
  execute?(params: P, ctx: CommandContext): Promise<Reply>;
  /** Guard 'confirm' or 'approval' only: what runs once confirmed or approved (see Operation). */
  operation?: Operation<P, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** When the runtime inspects an operation: when it is asked, at the click, and right before it runs. */
export type OperationStage = 'request' | 'decision' | 'start';

/** What an operation's inspect may read with: the requester's clients, never the clicker's. */
export interface OperationContext extends RuntimeDeps {
  actor: Actor;
  channel: string;
  stage: OperationStage;
}

/**
 * A confirmed or approved action. The runtime owns asking, the click, expiry and the job start;
 * it calls `inspect` and `plan` when asking, again at the click and again right before `run`,
 * and runs only if the plan's hash still equals the one that was confirmed or approved. A changed
 * plan stops it and asks again. There is no way to reach `run` without that check.
 */
export interface Operation<P = unknown, S = unknown> {
  /** Reads what the plan depends on; changes nothing. May throw UserFacingError (e.g. "nothing to unlock"). */
  inspect(params: P, ctx: OperationContext): Promise<S>;
  /** Pure: what will run, from the parameters and what `inspect` saw. Hashed once by the runtime. */
  plan(params: P, seen: S, config: Config): Plan;
  /** Does it, with what `inspect` saw right before (the plan was just compared). */
  run(params: P, seen: S, job: JobRun<P>): Promise<Reply>;
  /** Title of the job's parent message. */
  title(params: P): string;
  /** Runs in the process that was asked, after the decision and before the job is queued under `jobId` (a lock, a notice); throwing stops it. */
  beforeStart?(params: P, ctx: CommandContext, jobId: string): Promise<void>;
  /** The answer once the job is queued (or already was, `ref.existing`); not for inline operations. */
  started?(params: P, ref: JobRef, ctx: CommandContext): Promise<Reply> | Reply;
  /** Undoes `beforeStart` when the job could not be queued or already existed. */
  notStarted?(params: P, ctx: CommandContext, jobId: string): Promise<void>;
  /** ISO time to start at (a delayed job), e.g. `rotate jwt --at`. */
  startAt?(params: P): string | undefined;
  /**
   * Quick work without a thread: run in the request's process right after the decision (the
   * check happens there), its reply delivered like a command's.
   */
  inline?: boolean;
  cancellable?: boolean;
  onFailureNextStep?: string;
  /** As JobDefinition.onInterrupted; also called when the plan changed before it ran. */
  onInterrupted?(params: P, deps: RuntimeDeps, jobId: string): Promise<string | undefined>;
}

export interface ActionContext extends CommandContext {
  message?: { channel: string; ts: string; threadTs?: string };
  /**
   * Runs a verb for the person who clicked, exactly as if they had typed it: their role, the
   * channel limits and the verb's guard (confirmation or approval) apply; answers go to them.
   */
  request(path: readonly string[], args: Args): Promise<void>;
}

/**
 * A button handler; `action` is the Button.action it serves. A button that changes something
 * either calls `ctx.request` (the verb it stands for, with all its guards) or, when it is a step
 * of a verb's approved work that has no verb of its own, names that verb in `stepOf` so the
 * verb's channel limits apply to the click as well.
 */
export interface ActionHandler {
  action: string;
  minRole: Role;
  /** The verb's path, or a function of the button's value giving it. */
  stepOf?: readonly string[] | ((value: string) => readonly string[] | undefined);
  handle(value: string, ctx: ActionContext): Promise<Reply | undefined>;
}

export interface JobRun<D = unknown> extends RuntimeDeps {
  id: string;
  data: D;
  requestedBy: string;
  channel: string;
  /** The ts of the job's parent message (its thread) once Slack took it; undefined when the job has none. The job starts without waiting for it. */
  thread(): Promise<string | undefined>;
  signal: AbortSignal;
  /** An operation's job: the plan that was confirmed or approved (set by the runtime). */
  approved?: ApprovedPlan;
  /** A progress line in the job's thread (coalesced so Slack is not flooded). */
  step(text: Text): Promise<void>;
  /** Post buttons into the thread (e.g. "Terraform plan verified"). */
  ask(text: Text, buttons: Button[]): Promise<void>;
  attach(file: Attachment): Promise<void>;
  /**
   * A chart in the thread (its image and its sparkline line): an extra beside the step lines,
   * never an error of the job when it cannot be drawn or posted.
   */
  chart(chart: Chart): Promise<void>;
}

export interface JobDefinition<D = unknown> {
  name: string;
  title(data: D): string;
  cancellable?: boolean;
  /** A job that retries says which steps are safe to repeat. */
  retry?: { attempts: number; safeToRepeat: string };
  /** The runbook's next step, shown when the job fails. */
  onFailureNextStep?: string;
  process(run: JobRun<D>): Promise<Reply>;
  /**
   * The job will never finish: its worker died mid-run, or it was cancelled before it started.
   * Release what the job would have released in `finally` (locks) and say what state is left.
   */
  onInterrupted?(data: D, deps: RuntimeDeps, jobId: string): Promise<string | undefined>;
  /** Set by operationJob(): the operation this job runs once its plan is checked again. */
  operation?: Operation<D, unknown>;
}

export interface Schedule {
  name: string;
  /** Cron pattern and time zone, usually from config. */
  cron(config: Config): { pattern: string; tz: string } | undefined;
  job: string;
  data(config: Config): unknown;
  /** No status message per run: the job posts only what matters (e.g. a reminder when something is due). */
  quiet?: boolean;
}

export interface HttpRoute {
  method: 'GET' | 'POST';
  path: string;
  handle(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse, deps: RuntimeDeps): Promise<void>;
}

/**
 * Work that runs as long as the bot does (a Kubernetes watch): started with the workers, stopped
 * on shutdown. It keeps its own failures inside (logs them and tries again): none may stop the process.
 */
export interface BackgroundTask {
  name: string;
  /** Starts it unless the configuration leaves it off (undefined then). */
  start(deps: RuntimeDeps): RunningTask | undefined;
}

export interface RunningTask {
  /** Stops it and releases what it holds; resolves once nothing of it runs any more. */
  stop(): Promise<void>;
}

/** One runbook area: its verbs, buttons, jobs, schedules, HTTP routes and background tasks. */
export interface CommandModule {
  area: string;
  verbs: Verb<any>[]; // eslint-disable-line @typescript-eslint/no-explicit-any
  actions?: ActionHandler[];
  schedules?: Schedule[];
  routes?: HttpRoute[];
  tasks?: BackgroundTask[];
  /** Its section of the App Home tab, for the user opening it. */
  home?(ctx: CommandContext): Promise<Part[]>;
}

export class UsageError extends Error {}

/** A failure the user can act on; its message is shown as is (never contains secrets). */
export class UserFacingError extends Error {
  /** The message as it is shown (it may mention a channel or a person); `message` is its plain reading. */
  readonly text: Text;
  constructor(message: Text, readonly hint?: Text) {
    super(plainText(message));
    this.text = message;
  }
}
