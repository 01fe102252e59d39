/**
 * The buttons of an alert's status thread. Each requests the command it stands for, for the person
 * who clicked, exactly as if they had typed it (`ctx.request`): the runtime applies that command's
 * role, channel limits and guard (a rollback or a block is confirmed against its plan first).
 */
import type { ActionHandler, Args } from '../../src/core/types.ts';
import { UsageError } from '../../src/core/types.ts';
import { reply } from '../../src/core/result.ts';
import { ACTIONS } from './view.ts';

/** The reason a "Block IP" button gives. */
const BLOCK_REASON = 'alert: 429 offender';

function requestVerb(action: string, path: readonly string[], args: (value: string) => Args): ActionHandler {
  return {
    action,
    // The requested command's own role applies (the runtime checks it and says what is missing).
    minRole: 'viewer',
    async handle(value, ctx) {
      await ctx.request(path, args(value));
      return undefined;
    },
  };
}

function rollbackArgs(value: string): Args {
  try {
    const parsed = JSON.parse(value) as { app?: unknown; reason?: unknown };
    if (typeof parsed.app === 'string' && typeof parsed.reason === 'string') {
      return { positional: [parsed.app, ...parsed.reason.split(/\s+/).filter(Boolean)], flags: {} };
    }
  } catch {
    // fall through
  }
  throw new UsageError('This button is no longer valid; run `/autostack rollback <app>` instead.');
}

/** "Block IP": the address when the alert names one (`ratelimit block`, confirmed), else how to find and block it. */
const blockAction: ActionHandler = {
  action: ACTIONS.block,
  minRole: 'viewer',
  async handle(value, ctx) {
    if (value) {
      await ctx.request(['ratelimit', 'block'], { positional: [value, ...BLOCK_REASON.split(' ')], flags: {} });
      return undefined;
    }
    return reply('Which address to block', [
      { kind: 'text', text: 'This alert does not name an address. *Show top offenders* lists the clients with the most 429s, each with its own Block button.' },
      { kind: 'code', text: '/autostack ratelimit top --since 15m\n/autostack ratelimit block <ip> --ttl 1h <reason>' },
    ]);
  },
};

const groupArgs = (group: string): Args => ({ positional: [group], flags: {} });

/** "Silence 1h": the button's value is "<group> 1h". */
function silenceArgs(value: string): Args {
  const [group, length, ...rest] = value.split(' ');
  if (!group || !length || rest.length) throw new UsageError('This button is no longer valid; run `/autostack alerts silence <alertname> --for 1h` instead.');
  return { positional: [group], flags: { for: length } };
}

const linkAction: ActionHandler = {
  action: ACTIONS.link,
  minRole: 'viewer',
  handle: async () => undefined,
};

export const alertActions: ActionHandler[] = [
  requestVerb(ACTIONS.logs, ['logs'], (app) => ({ positional: [app], flags: { since: '30m' } })),
  requestVerb(ACTIONS.top, ['ratelimit', 'top'], (app) => ({ positional: [], flags: { app } })),
  requestVerb(ACTIONS.dbCheck, ['db', 'check'], () => ({ positional: [], flags: {} })),
  requestVerb(ACTIONS.rollback, ['rollback'], rollbackArgs),
  blockAction,
  requestVerb(ACTIONS.ack, ['alerts', 'ack'], groupArgs),
  requestVerb(ACTIONS.silence, ['alerts', 'silence'], silenceArgs),
  requestVerb(ACTIONS.unsilence, ['alerts', 'unsilence'], groupArgs),
  linkAction,
];
