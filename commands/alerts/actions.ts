/**
 * The buttons of an alert's status thread. Each is the request of the command it stands for,
 * made for the person who clicked in the thread's channel (`ctx.request`): the same role, channel
 * limits and guard as typing it. A guarded command (rollback, ratelimit block) is confirmed
 * through the dispatcher's pending request, bound to the plan it shows, and expires like one.
 */
import type { ActionHandler, Args, Verb } from '../../src/core/types.ts';
import { UsageError } from '../../src/core/types.ts';
import { reply } from '../../src/core/result.ts';
import { dbCheckVerb, logsVerb, rollbackVerb } from '../incident/verbs.ts';
import { topVerb } from '../incident/ratelimit/verbs.ts';
import { requestBlock } from '../incident/ratelimit/index.ts';
import { ACTIONS } from './view.ts';

/** A button that requests `verb` with the arguments its value stands for. */
function requestVerb(action: string, verb: Verb<unknown>, args: (value: string) => Args): ActionHandler {
  return {
    action,
    minRole: verb.minRole,
    async handle(value, ctx) {
      await ctx.request(verb.path, args(value));
      return undefined;
    },
  };
}

/** The rollback button's value: the app and the reason the alert gives. */
function rollbackArgs(value: string): Args {
  let parsed: { app?: unknown; reason?: unknown } | undefined;
  try {
    parsed = JSON.parse(value) as { app?: unknown; reason?: unknown };
  } catch {
    parsed = undefined;
  }
  if (typeof parsed?.app !== 'string' || typeof parsed.reason !== 'string') {
    throw new UsageError('This button is no longer valid; run `/autostack rollback <app>` instead.');
  }
  return { positional: [parsed.app, ...parsed.reason.split(/\s+/).filter(Boolean)], flags: {} };
}

/** "Block IP": the address when the alert names one (`ratelimit block`), else how to find and block it. */
const blockAction: ActionHandler = {
  action: ACTIONS.block,
  minRole: 'operator',
  async handle(value, ctx) {
    if (value) return requestBlock(value, ctx);
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
  requestVerb(ACTIONS.logs, logsVerb as Verb<unknown>, (app) => ({ positional: [app], flags: { since: '30m' } })),
  requestVerb(ACTIONS.top, topVerb as Verb<unknown>, (app) => ({ positional: [], flags: { app } })),
  requestVerb(ACTIONS.dbCheck, dbCheckVerb as Verb<unknown>, () => ({ positional: [], flags: {} })),
  requestVerb(ACTIONS.rollback, rollbackVerb as Verb<unknown>, rollbackArgs),
  blockAction,
  linkAction,
];
