/**
 * The buttons of an alert's status thread. Each does what the command it stands for does, by
 * calling that command's own parse/plan/execute (commands/incident): same checks, same output,
 * same role. A guarded command (rollback) shows its plan with a confirm button first, bound to
 * that plan: if the plan changed before the click, it is shown again instead of run.
 */
import { createHash } from 'node:crypto';
import type { ActionContext, ActionHandler, Plan, Role, Verb } from '../../src/core/types.ts';
import { UsageError } from '../../src/core/types.ts';
import type { Part, Reply } from '../../src/core/result.ts';
import { errorReply, reply } from '../../src/core/result.ts';
import { dbCheckVerb, logsVerb, rollbackVerb } from '../incident/verbs.ts';
import { topVerb } from '../incident/ratelimit/verbs.ts';
import { blockButtonReply } from '../incident/ratelimit/index.ts';
import type { RollbackParams } from '../incident/rollback.ts';
import { ACTIONS } from './view.ts';

/** The channel limits of the configuration (access.channels) apply to buttons as to commands. */
function channelRefusal(verb: Verb<never>, ctx: ActionContext): Reply | undefined {
  const name = verb.path.join(' ');
  const allowed = ctx.config.access.channels[name];
  if (!allowed || allowed.includes(ctx.channel)) return undefined;
  return errorReply(`\`${name}\` can only be run in ${allowed.map((c) => `<#${c}>`).join(', ')}.`);
}

function runVerb<P>(action: string, verb: Verb<P>, args: (value: string) => { positional: string[]; flags: Record<string, string | true> }): ActionHandler {
  return {
    action,
    minRole: verb.minRole as Role,
    async handle(value, ctx) {
      const refused = channelRefusal(verb as Verb<never>, ctx);
      if (refused) return refused;
      const params = verb.parse(args(value), { config: ctx.config, actor: ctx.actor });
      return verb.execute(params, ctx);
    },
  };
}

function planDigest(plan: Plan): string {
  return createHash('sha256').update(JSON.stringify(plan)).digest('hex').slice(0, 24);
}

interface RollbackValue {
  app: string;
  reason: string;
  plan?: string;
}

function rollbackValue(value: string): RollbackValue {
  try {
    const parsed = JSON.parse(value) as RollbackValue;
    if (typeof parsed.app === 'string' && typeof parsed.reason === 'string') return parsed;
  } catch {
    // fall through
  }
  throw new UsageError('This button is no longer valid; run `/autostack rollback <app>` instead.');
}

function parseRollback(value: RollbackValue, ctx: ActionContext): RollbackParams {
  return rollbackVerb.parse({ positional: [value.app, ...value.reason.split(/\s+/).filter(Boolean)], flags: {} }, { config: ctx.config, actor: ctx.actor });
}

/** The rollback plan with a confirm button bound to it. */
function confirmRollback(value: RollbackValue, plan: Plan, note?: string): Reply {
  const parts: Part[] = [];
  if (note) parts.push({ kind: 'text', text: note });
  parts.push({ kind: 'text', text: `*${plan.title}*` }, { kind: 'code', text: plan.steps.map((s, i) => `${i + 1}. ${s}`).join('\n') });
  for (const warning of plan.warnings ?? []) parts.push({ kind: 'text', text: `:warning: ${warning}` });
  parts.push({
    kind: 'buttons',
    buttons: [
      {
        label: 'Confirm rollback',
        action: ACTIONS.rollbackConfirm,
        value: JSON.stringify({ ...value, plan: planDigest(plan) }),
        style: 'danger',
        confirm: { title: 'Roll back now?', text: plan.title, confirm: 'Roll back', deny: 'Cancel' },
      },
    ],
  });
  parts.push({ kind: 'context', text: `The same as \`/autostack rollback ${value.app} ${value.reason}\`.` });
  return { summary: `Confirm: ${plan.title}`, parts, visibility: 'ephemeral' };
}

/**
 * A rollback button: refused outside the channels `rollback` is limited to, else `then` gets the
 * button's value, the command's parameters and its plan as of now.
 */
function rollbackButton(action: string, then: (value: RollbackValue, params: RollbackParams, plan: Plan, ctx: ActionContext) => Promise<Reply | undefined>): ActionHandler {
  return {
    action,
    minRole: rollbackVerb.minRole,
    async handle(raw, ctx) {
      const refused = channelRefusal(rollbackVerb as Verb<never>, ctx);
      if (refused) return refused;
      const value = rollbackValue(raw);
      const params = parseRollback(value, ctx);
      return then(value, params, await rollbackVerb.plan!(params, ctx), ctx);
    },
  };
}

const rollbackAction = rollbackButton(ACTIONS.rollback, async (value, _params, plan) => confirmRollback(value, plan));

const rollbackConfirmAction = rollbackButton(ACTIONS.rollbackConfirm, async (value, params, plan, ctx) => {
  if (planDigest(plan) !== value.plan) {
    return confirmRollback({ app: value.app, reason: value.reason }, plan, ':arrows_counterclockwise: What the rollback would do changed since it was shown; here is the current plan:');
  }
  await ctx.audit.record({ actor: ctx.actor.id, action: 'rollback', result: 'confirmed from an alert thread', channel: ctx.channel, args: { app: value.app, reason: value.reason } });
  return rollbackVerb.execute(params, ctx);
});

/** "Block IP": the address when the alert names one (the ratelimit block confirm), else how to find and block it. */
const blockAction: ActionHandler = {
  action: ACTIONS.block,
  minRole: 'operator',
  async handle(value, ctx) {
    if (value) return blockButtonReply(value, ctx);
    return reply('Which address to block', [
      { kind: 'text', text: 'This alert does not name an address. *Show top offenders* lists the clients with the most 429s, each with its own Block button.' },
      { kind: 'code', text: '/autostack ratelimit top --since 15m\n/autostack ratelimit block <ip> --ttl 1h <reason>' },
    ]);
  },
};

const linkAction: ActionHandler = {
  action: ACTIONS.link,
  minRole: 'viewer',
  handle: async () => undefined,
};

export const alertActions: ActionHandler[] = [
  runVerb(ACTIONS.logs, logsVerb, (app) => ({ positional: [app], flags: { since: '30m' } })),
  runVerb(ACTIONS.top, topVerb, (app) => ({ positional: [], flags: { app } })),
  runVerb(ACTIONS.dbCheck, dbCheckVerb, () => ({ positional: [], flags: {} })),
  rollbackAction,
  rollbackConfirmAction,
  blockAction,
  linkAction,
];
