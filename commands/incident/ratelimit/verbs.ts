/**
 * `/autostack ratelimit top | block | unblock | blocks` and the "Block" buttons of `top`.
 */
import type { ActionHandler, Actor, Args, CommandContext, KubeClients, Operation, Plan, Verb } from '../../../src/core/types.ts';
import { UsageError, UserFacingError } from '../../../src/core/types.ts';
import { ownValue } from '../../../src/core/keys.ts';
import type { Part, Reply } from '../../../src/core/result.ts';
import { reply, table } from '../../../src/core/result.ts';
import type { Config } from '../../../src/config.ts';
import { parseNetwork } from './address.ts';
import { RateLimitAnalyzer } from './analyzer.ts';
import { applyBlock, records, removeBlock, backendClients } from './block.ts';
import type { BlockOutcome } from './block.ts';
import { backendFor, configuredTarget, describeTarget, DENYLIST_ANNOTATION } from './blocklist.ts';
import type { BlockTarget } from './blocklist.ts';
import { deploymentPods, streamPodLogs } from './kube-logs.ts';
import { checkBlock } from './policy.ts';
import { blocksKey } from '../../shared/block-records.ts';
import type { BlockRecord } from '../../shared/block-records.ts';
import { BLOCK_ACTION, topReply } from './report.ts';
import { clockTime } from '../../shared/evidence.ts';
import { logWindow, oldestLineTap, podReach } from '../../shared/log-window.ts';
import { md, mention } from '../../../src/core/text.ts';
import { durationFlag } from '../../../src/core/durations.ts';

const RUNBOOK_STEP_2 = 'Scenario 2, step 2: docker logs autostack-backend | grep "429" | awk \'{print $1}\' | sort | uniq -c';
const RUNBOOK_STEP_3 = 'Scenario 2, step 3: temporarily block malicious IPs (nginx `deny 1.2.3.4;`)';

const MIN_SINCE_MS = 60_000;
const MAX_SINCE_MS = 24 * 3_600_000;
const MIN_TTL_MS = 60_000;
const MAX_TTL_MS = 30 * 86_400_000;

function flagString(args: Args, name: string): string | undefined {
  const value = args.flags[name];
  return typeof value === 'string' ? value : undefined;
}

function humanTime(iso: string): string {
  return `${iso.slice(0, 16).replace('T', ' ')} UTC`;
}

// ---------------------------------------------------------------------------------------------
// ratelimit top

export interface TopParams {
  app: string;
  deployment: string;
  container?: string;
  since: string;
  sinceSeconds: number;
  limit: number;
}

export const topVerb: Verb<TopParams> = {
  path: ['ratelimit', 'top'],
  section: 'incident',
  runbookStep: RUNBOOK_STEP_2,
  summary: "Counts HTTP 429 responses in the app's recent logs by client IP: top offenders, 429s per minute against the alert threshold, paths hit",
  usage: '[--since 15m] [--app backend] [--limit 10]',
  minRole: 'viewer',
  guard: 'none',
  positional: { min: 0, max: 0 },
  flags: { since: 'string', app: 'string', limit: 'string' },
  parse(args, { config }) {
    const app = flagString(args, 'app') ?? config.rateLimit.app;
    if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(app)) throw new UsageError(`--app must be a Deployment name such as backend (got "${app}")`);
    const since = flagString(args, 'since') ?? '15m';
    const sinceMs = durationFlag(since, 'since', MIN_SINCE_MS, MAX_SINCE_MS);
    const limitText = flagString(args, 'limit') ?? '10';
    if (!/^\d{1,2}$/.test(limitText) || Number(limitText) < 1 || Number(limitText) > 50) throw new UsageError(`--limit must be a number from 1 to 50 (got "${limitText}")`);
    return {
      app,
      ...sourceDeployment(config, app),
      since,
      sinceSeconds: Math.round(sinceMs / 1000),
      limit: Number(limitText),
    };
  },
  async execute(params, ctx) {
    return rateLimitTop(params, ctx);
  },
};

/** Apps `--app` is known to mean: the configured one, the other log sources, the declared apps. */
function knownSources(config: Config): string[] {
  return [...new Set([config.rateLimit.app, ...config.rateLimit.logSources, ...Object.keys(config.deploy.apps)])];
}

function sourceDeployment(config: Config, app: string): { deployment: string; container?: string } {
  const configured = ownValue(config.deploy.apps, app);
  return { deployment: configured?.deployment ?? app, ...(configured?.container ? { container: configured.container } : {}) };
}

/** Where to look for what the app's logs do not cover: the other configured sources, with how far their logs reach. */
async function otherSources(kube: KubeClients, config: Config, params: TopParams, wanted: Date, now: Date): Promise<string> {
  const others = config.rateLimit.logSources.filter((s) => s !== params.app);
  if (others.length === 0) return 'for earlier, read the ingress controller\'s or load balancer\'s logs (rateLimit.logSources names them here)';
  const hints = await Promise.all(
    others.map(async (app) => {
      const source = sourceDeployment(config, app);
      const command = `\`/autostack ratelimit top --app ${app} --since ${params.since}\``;
      try {
        const pods = await deploymentPods(kube, config.kubernetes.namespace, source.deployment);
        const window = logWindow(pods.map((p) => podReach(p, source.container)), wanted, now);
        return `${command} (its logs reach back to ${clockTime(window.from, now)})`;
      } catch {
        return command;
      }
    }),
  );
  return `for earlier, use ${hints.join(' or ')}`;
}

export async function rateLimitTop(params: TopParams, ctx: Pick<CommandContext, 'config' | 'clients'>, signal?: AbortSignal): Promise<Reply> {
  const namespace = ctx.config.kubernetes.namespace;
  const kube = ctx.clients.kube();
  let pods;
  try {
    pods = await deploymentPods(kube, namespace, params.deployment);
  } catch (error) {
    if (error instanceof UserFacingError && /not found/.test(error.message)) {
      throw new UserFacingError(`${error.message} Known log sources: ${knownSources(ctx.config).join(', ')}.`, 'Give one of them with --app (rateLimit.logSources and deploy.apps configure them).');
    }
    throw error;
  }
  if (pods.length === 0) throw new UserFacingError(`Deployment ${params.deployment} has no pods in namespace ${namespace}; there are no logs to read.`);
  const analyzer = new RateLimitAnalyzer({
    trustForwardedFor: ctx.config.rateLimit.trustForwardedFor,
    minuteSlots: Math.ceil(params.sinceSeconds / 60) + 1,
  });
  const reaches = new Map(pods.map((pod) => [pod.metadata?.name ?? '?', podReach(pod, params.container)]));
  const outcomes = await streamPodLogs(
    kube,
    pods,
    { namespace, deployment: params.deployment, container: params.container, sinceSeconds: params.sinceSeconds, signal },
    (pod) =>
      oldestLineTap(analyzer.writable(), (at) => {
        const reach = reaches.get(pod);
        if (reach) reach.oldestLine = at;
      }),
  );
  if (outcomes.every((o) => o.error)) {
    throw new UserFacingError(`Could not read the logs of any pod of ${params.deployment}: ${outcomes.map((o) => `${o.pod}: ${o.error}`).join('; ')}.`);
  }
  const now = ctx.clients.clock.now();
  const wanted = new Date(now.getTime() - params.sinceSeconds * 1000);
  const read = outcomes.filter((o) => !o.error).map((o) => reaches.get(o.pod)!);
  const window = logWindow(read, wanted, now);
  const elsewhere = window.complete ? undefined : await otherSources(kube, ctx.config, params, wanted, now);
  const store = records(ctx.config, ctx.clients);
  const [blocks, ended] = await Promise.all([store.all(), store.endedSince(wanted)]);
  return topReply(analyzer.summary(params.limit, 5), {
    app: params.app,
    since: params.since,
    threshold: ctx.config.rateLimit.perMinuteThreshold,
    pods: outcomes,
    config: ctx.config,
    window,
    now,
    blocks,
    ended,
    ...(elsewhere ? { elsewhere } : {}),
  });
}

// ---------------------------------------------------------------------------------------------
// ratelimit block

export interface BlockParams {
  cidr: string;
  kind: 'ipv4' | 'ipv6';
  ttl: string;
  ttlMs: number;
  reason: string;
  /** Why an approver's --force was needed (empty when it was not). */
  forcedBecause: string[];
}

/** Validates a block request; shared by the verb and the buttons. Throws UsageError. */
export function parseBlock(input: { target: string; ttl?: string; reason?: string; force: boolean }, ctx: { config: Config; actor: Actor }): BlockParams {
  const network = parseNetwork(input.target);
  if (typeof network === 'string') throw new UsageError(network);
  if (input.force && ctx.actor.role !== 'approver') throw new UsageError('--force needs the approver role.');
  const check = checkBlock(network, ctx.config);
  if (check.refused) throw new UsageError(check.refused);
  if (check.needsForce.length > 0 && !input.force) {
    throw new UsageError(`Not blocked: ${check.needsForce.join('; ')}. An approver can force it with --force.`);
  }
  const ttl = input.ttl ?? ctx.config.rateLimit.block.defaultTtl;
  const ttlMs = durationFlag(ttl, 'ttl', MIN_TTL_MS, MAX_TTL_MS);
  try {
    configuredTarget(ctx.config, network.kind);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const reason = (input.reason ?? '').trim().slice(0, 300);
  return { cidr: network.cidr, kind: network.kind, ttl, ttlMs, reason, forcedBecause: check.needsForce };
}

function targetSteps(target: BlockTarget, cidr: string, verb: 'add' | 'remove'): string {
  if (target.kind === 'ingress') {
    return verb === 'add'
      ? `Add ${cidr} to the ${DENYLIST_ANNOTATION} annotation of Ingress ${target.namespace}/${target.name}, keeping the entries already there (JSON patch that first tests the current value)`
      : `Remove ${cidr} from the ${DENYLIST_ANNOTATION} annotation of Ingress ${target.namespace}/${target.name}, keeping the other entries`;
  }
  return verb === 'add'
    ? `Add ${cidr} to WAF IP set ${target.name} (${target.scope}, ${target.id}) with GetIPSet + UpdateIPSet and its lock token, keeping the addresses already there`
    : `Remove ${cidr} from WAF IP set ${target.name} (${target.scope}, ${target.id}), keeping the other addresses`;
}

export function blockPlan(params: BlockParams, config: Config): Plan {
  const target = configuredTarget(config, params.kind);
  const plan: Plan = {
    title: `Block ${params.cidr} for ${params.ttl}`,
    steps: [
      `Record the block (who, why, until when) in Redis hash ${blocksKey(config.redis.prefix)}`,
      `Schedule the automatic unblock in ${params.ttl} (delayed job ratelimit-unblock; it survives restarts)`,
      targetSteps(target, params.cidr, 'add'),
    ],
    resources: [describeTarget(target)],
  };
  if (params.forcedBecause.length > 0) plan.warnings = params.forcedBecause.map((why) => `Forced by an approver: ${why}.`);
  return plan;
}

function blockedReply(params: BlockParams, outcome: BlockOutcome, actorId: string): Reply {
  const { record } = outcome;
  const verbText = outcome.added ? 'Blocked' : 'Renewed the block of';
  const text = `:no_entry: ${verbText} ${record.cidr} until ${humanTime(record.until)} (${params.ttl}) on ${describeTarget(record.target)}.`;
  const parts: Part[] = [
    { kind: 'text', text },
    {
      kind: 'fields',
      fields: [
        ['Blocked by', mention(actorId)],
        ['Reason', record.reason ? md`${record.reason}` : '(none given)'],
        ['Until', humanTime(record.until)],
        ['Entries in the list', String(outcome.entries)],
      ],
    },
    { kind: 'context', text: `Unblocks automatically at ${humanTime(record.until)}; \`/autostack ratelimit unblock ${record.cidr}\` lifts it now.` },
  ];
  if (params.forcedBecause.length > 0) parts.push({ kind: 'context', text: `:warning: Forced: ${params.forcedBecause.join('; ')}.` });
  return { summary: `${verbText} ${record.cidr} until ${humanTime(record.until)}`, parts, visibility: 'channel' };
}

/** Quick enough to run at the click (inline): the reply goes to the channel. */
export const blockOperation: Operation<BlockParams, Record<string, never>> = {
  inline: true,
  title: (params) => `Block ${params.cidr} for ${params.ttl}`,
  inspect: async () => ({}),
  plan: (params, _seen, config) => blockPlan(params, config),
  async run(params, _seen, run) {
    const outcome = await applyBlock(
      { config: run.config, clients: run.clients, jobs: run.jobs, audit: run.audit, actorId: run.requestedBy, channel: run.channel },
      { cidr: params.cidr, kind: params.kind, ttlMs: params.ttlMs, reason: params.reason, forced: params.forcedBecause.length > 0 },
    );
    return blockedReply(params, outcome, run.requestedBy);
  },
};

export const blockVerb: Verb<BlockParams> = {
  path: ['ratelimit', 'block'],
  section: 'incident',
  runbookStep: RUNBOOK_STEP_3,
  summary: 'Blocks an IP or network at the ingress deny list or the WAF IP set, keeping existing entries; unblocks automatically after the TTL',
  usage: '<ip|cidr> [--ttl 1h] [--force] [reason]',
  example: '203.0.113.7 --ttl 2h scraping the login endpoint',
  minRole: 'operator',
  guard: 'confirm',
  positional: { min: 1, max: 60 },
  flags: { ttl: 'string', force: 'boolean' },
  parse(args, ctx) {
    const [target, ...reason] = args.positional;
    return parseBlock({ target: target!, ttl: flagString(args, 'ttl'), reason: reason.join(' '), force: args.flags.force === true }, ctx);
  },
  operation: blockOperation,
};

// ---------------------------------------------------------------------------------------------
// The "Block <ip>" buttons of ratelimit top

/** The reason recorded for a block requested from a "Block" button of `ratelimit top`. */
export const BUTTON_BLOCK_REASON = '429 offender (ratelimit top)';

/** "Block <ip>" (from ratelimit top): the same request as typing `ratelimit block <ip>`, confirmed by the clicker. */
export const blockButtonAction: ActionHandler = {
  action: BLOCK_ACTION,
  minRole: 'operator',
  async handle(value, ctx) {
    await ctx.request(blockVerb.path, { positional: [value, ...BUTTON_BLOCK_REASON.split(' ')], flags: {} });
    return undefined;
  },
};

// ---------------------------------------------------------------------------------------------
// ratelimit unblock

export interface UnblockParams {
  cidr: string;
  kind: 'ipv4' | 'ipv6';
}

export const unblockVerb: Verb<UnblockParams> = {
  path: ['ratelimit', 'unblock'],
  section: 'incident',
  runbookStep: RUNBOOK_STEP_3,
  summary: 'Lifts a block now: removes the network from the deny list or WAF IP set (other entries stay) and its record',
  usage: '<ip|cidr>',
  example: '203.0.113.7',
  minRole: 'operator',
  guard: 'confirm',
  positional: { min: 1, max: 1 },
  parse(args) {
    const network = parseNetwork(args.positional[0]!);
    if (typeof network === 'string') throw new UsageError(network);
    return { cidr: network.cidr, kind: network.kind };
  },
  operation: {
    inline: true,
    title: (params) => `Unblock ${params.cidr}`,
    inspect: async (params, ctx) => ({ record: await records(ctx.config, ctx.clients).get(params.cidr) }),
    plan(params, { record }, config) {
      const target = record?.target ?? configuredTarget(config, params.kind);
      return {
        title: `Unblock ${params.cidr}`,
        steps: [targetSteps(target, params.cidr, 'remove'), `Delete its record from Redis hash ${blocksKey(config.redis.prefix)} (the scheduled automatic unblock then does nothing)`],
        resources: [describeTarget(target)],
        ...(record ? {} : { warnings: [`The bot has no record of blocking ${params.cidr}; it is removed from the list if it is there.`] }),
      };
    },
    async run(params, _seen, run) {
      const outcome = await removeBlock({ config: run.config, clients: run.clients, audit: run.audit, actorId: run.requestedBy, channel: run.channel }, params.cidr, params.kind);
      const text = outcome.removed
        ? `:white_check_mark: Unblocked ${params.cidr}: removed from ${describeTarget(outcome.target)} (${outcome.entries} entr${outcome.entries === 1 ? 'y' : 'ies'} left).`
        : `:white_check_mark: ${params.cidr} was no longer in ${describeTarget(outcome.target)}; its record was deleted.`;
      const parts: Part[] = [{ kind: 'text', text }];
      if (outcome.record) parts.push({ kind: 'context', text: md`It was blocked by ${mention(outcome.record.by)} until ${humanTime(outcome.record.until)}${outcome.record.reason ? md`: ${outcome.record.reason}` : ''}.` });
      return { summary: `Unblocked ${params.cidr}`, parts, visibility: 'channel' };
    },
  } satisfies Operation<UnblockParams, { record: BlockRecord | undefined }>,
};

// ---------------------------------------------------------------------------------------------
// ratelimit blocks

export const blocksVerb: Verb<Record<string, never>> = {
  path: ['ratelimit', 'blocks'],
  section: 'incident',
  runbookStep: RUNBOOK_STEP_3,
  summary: 'Lists blocked networks: who blocked them, why, until when, and what else is in the deny list',
  usage: '',
  minRole: 'viewer',
  guard: 'none',
  positional: { min: 0, max: 0 },
  parse() {
    return {};
  },
  async execute(_params, ctx) {
    const all = await records(ctx.config, ctx.clients).all();
    const now = ctx.clients.clock.now().getTime();
    const parts: Part[] = [];
    if (all.length === 0) parts.push({ kind: 'text', text: 'The bot has no active blocks.' });
    else {
      parts.push({ kind: 'text', text: `*${all.length} block${all.length === 1 ? '' : 's'} by the bot*` });
      parts.push(
        table(
          ['Network', 'Until', 'By', 'Reason', 'Where'],
          all.map((r) => [
            r.cidr,
            `${humanTime(r.until)}${Date.parse(r.until) < now ? ' (overdue: automatic unblock has not run)' : ''}`,
            `<@${r.by}>`,
            `${r.reason || '(none)'}${r.forced ? ' [forced]' : ''}`,
            r.target.kind === 'ingress' ? `ingress ${r.target.namespace}/${r.target.name}` : `waf ${r.target.name}`,
          ]),
        ),
      );
    }
    // What the configured list holds besides the bot's own blocks.
    const recorded = new Set(all.map((r) => r.cidr));
    const kinds: Array<'ipv4' | 'ipv6'> = ctx.config.rateLimit.block.backend === 'waf' && ctx.config.rateLimit.block.waf?.ipv6 ? ['ipv4', 'ipv6'] : ['ipv4'];
    for (const kind of kinds) {
      let target: BlockTarget;
      try {
        target = configuredTarget(ctx.config, kind);
      } catch (error) {
        parts.push({ kind: 'context', text: (error as Error).message });
        continue;
      }
      try {
        const entries = await backendFor(target, backendClients(ctx.clients, ctx.actor.id)).list();
        const others = entries.filter((e) => {
          const n = parseNetwork(e);
          return typeof n === 'string' || !recorded.has(n.cidr);
        });
        parts.push({
          kind: 'context',
          text: `${describeTarget(target)} holds ${entries.length} entr${entries.length === 1 ? 'y' : 'ies'}${others.length > 0 ? `; not added by the bot (kept as they are): ${others.join(', ')}` : ''}.`,
        });
      } catch (error) {
        parts.push({ kind: 'context', text: `Could not read ${describeTarget(target)}: ${(error as Error).message}` });
      }
    }
    const summary = all.length === 0 ? 'No active blocks' : `${all.length} active block${all.length === 1 ? '' : 's'}`;
    return reply(summary, parts, 'channel');
  },
};

export const rateLimitVerbs: Verb<any>[] = [topVerb, blockVerb, unblockVerb, blocksVerb]; // eslint-disable-line @typescript-eslint/no-explicit-any
export const rateLimitActions: ActionHandler[] = [blockButtonAction];
