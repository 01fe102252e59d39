/**
 * Credential rotation: runbook "Credential Rotation" for the GitHub and Google OAuth credentials
 * (every 90 days) and the JWT secrets (every 180 days). The AWS role is the IAM area's.
 *
 *   rotate status                                   viewer   every credential, last rotation, next due, state
 *   rotate mark <credential> <date>                 approver records a rotation done outside the bot
 *   rotate github | google                          operator a private one-time link to the form for the new values
 *   rotate github | google apply --form <id>|--staged   operator, approval: write, restart, OAuth check (job)
 *   rotate jwt [--at <time>] [--notify <channel>]   operator, approval: new JWT secrets (job)
 */
import type { ActionHandler, CommandContext, CommandModule, Schedule, Verb } from '../../src/core/types.ts';
import { UsageError, UserFacingError } from '../../src/core/types.ts';
import type { Part } from '../../src/core/result.ts';
import { errorReply, reply } from '../../src/core/result.ts';
import { REVOKED_ACTION, jwtOperation, oauthOperation } from './operations.ts';
import { ROTATION_REMINDER_JOB } from './reminder.ts';
import type { RotationReminderData } from './reminder.ts';
import { APPLY_FORM_ACTION, formRoutes } from './form.ts';
import { parseJwt } from './jwt.ts';
import type { JwtParams } from './jwt.ts';
import { PROVIDER_CONSOLE, PROVIDER_LABEL } from './oauth.ts';
import type { OAuthApplyParams } from './oauth.ts';
import type { Credential, CredentialStatus, OAuthProvider } from './records.ts';
import { CREDENTIALS, CREDENTIAL_LABEL, DAY_MS, METHOD_LABEL, ROTATE_COMMAND, RotationRecords, allStatuses, isCredential, isoDate, stateIcon, stateText } from './records.ts';
import { OAUTH_KEYS } from './secret.ts';
import { LINK_TTL_MS, createLink, formUrl, isFormId } from './staged.ts';
import type { Text } from '../../src/core/text.ts';
import { joinText, link as linkTo, md, mention } from '../../src/core/text.ts';

// ---------------------------------------------------------------------------------------------
// rotate status

/** One line per credential (mentions work in text, not in a table's code block). */
export function statusLine(s: CredentialStatus): Text {
  const head = `${stateIcon(s.state)} *${CREDENTIAL_LABEL[s.credential]}*: ${stateText(s)}`;
  if (!s.record) return head;
  const by = s.record.by ? md` by ${mention(s.record.by)}` : '';
  return joinText([head, md`\n      last rotated ${isoDate(s.record.lastRotated)}${by} (`, `${METHOD_LABEL[s.record.method]}); next due ${isoDate(s.dueAt!)} (every ${s.intervalDays} days)`]);
}

const statusVerb: Verb<Record<string, never>> = {
  path: ['rotate', 'status'],
  section: 'rotation',
  runbookStep: 'Credential Rotation: frequencies (OAuth every 90 days, JWT every 180 days)',
  summary: 'Every credential with its last rotation, next due date and state (ok, due soon, overdue), with a Start rotation button for what is due',
  usage: '',
  minRole: 'viewer',
  guard: 'none',
  parse: () => ({}),
  async execute(_params, ctx) {
    const now = ctx.clients.clock.now();
    const statuses = await allStatuses(RotationRecords.of(ctx.clients.redis, ctx.config), ctx.config, now);
    const parts: Part[] = [
      { kind: 'heading', text: 'Credential rotation' },
      { kind: 'text', text: joinText(statuses.map(statusLine), '\n') },
    ];
    const pendingRevocation = statuses.filter((s) => s.record?.oldClientId && !s.record.revokedAt);
    for (const s of pendingRevocation) {
      parts.push({ kind: 'text', text: `:warning: ${CREDENTIAL_LABEL[s.credential]}: the old client ID ${s.record!.oldClientId} is not recorded as revoked at ${PROVIDER_CONSOLE[s.credential as OAuthProvider]} yet.` });
    }
    parts.push({
      kind: 'context',
      text: `Every ${ctx.config.rotation.github} days (GitHub), ${ctx.config.rotation.google} (Google), ${ctx.config.rotation.jwt} (JWT); "due soon" is within ${ctx.config.rotation.dueSoonDays} days. The AWS role is reviewed by the IAM area (\`/autostack iam check\`).`,
    });
    const attention = statuses.filter((s) => s.state !== 'ok');
    const due = statuses.filter((s) => s.state === 'due-soon' || s.state === 'overdue');
    if (due.length) {
      parts.push({ kind: 'buttons', buttons: due.map((s) => ({ label: `Start rotation: ${CREDENTIAL_LABEL[s.credential]}`, action: START_ACTION, value: s.credential, style: s.state === 'overdue' ? ('primary' as const) : undefined })) });
    }
    const summary = attention.length === 0 ? 'All credentials are within their rotation period.' : attention.map((s) => `${CREDENTIAL_LABEL[s.credential]}: ${stateText(s)}`).join('; ');
    return reply(summary, parts);
  },
};

const START_ACTION = 'rotate.start';

/** "Start rotation" under `rotate status`: `rotate <credential>` for whoever clicks, with its role and guard. */
const startHandler: ActionHandler = {
  action: START_ACTION,
  // The verb's own role, channel limits and approval are checked by ctx.request.
  minRole: 'viewer',
  async handle(value, ctx) {
    if (!isCredential(value)) throw new UsageError('this button is out of date; run `/autostack rotate status` again');
    await ctx.request(['rotate', value], { positional: [], flags: {} });
    return undefined;
  },
};

/** "Apply in Slack" of the form's private notice: `rotate <provider> apply --form <id>` for whoever clicks. */
const applyFormHandler: ActionHandler = {
  action: APPLY_FORM_ACTION,
  // The verb checks the role and the approval; the form values only serve the user they were given to.
  minRole: 'viewer',
  async handle(value, ctx) {
    const [provider = '', formId = ''] = value.split(':');
    if (!Object.hasOwn(PROVIDER_LABEL, provider) || !isFormId(formId)) throw new UsageError('this button is out of date; open a new form with `/autostack rotate github` or `/autostack rotate google`');
    await ctx.request(['rotate', provider, 'apply'], { positional: [], flags: { form: formId } });
    return undefined;
  },
};

// ---------------------------------------------------------------------------------------------
// rotate mark

interface MarkParams {
  credential: Credential;
  date: string;
}

/** YYYY-MM-DD (a real calendar day) or a full ISO time with its zone. */
export function parseRotationDate(text: string): string {
  const day = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (day) {
    const date = new Date(`${text}T00:00:00.000Z`);
    if (Number.isNaN(date.getTime()) || date.toISOString().slice(0, 10) !== text) throw new UsageError(`${text} is not a calendar date`);
    return date.toISOString();
  }
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/.test(text)) {
    const date = new Date(text);
    if (!Number.isNaN(date.getTime())) return date.toISOString();
  }
  throw new UsageError(`the date must be YYYY-MM-DD (e.g. 2025-06-01), got "${text.slice(0, 40)}"`);
}

const markVerb: Verb<MarkParams> = {
  path: ['rotate', 'mark'],
  section: 'rotation',
  runbookStep: 'Credential Rotation: record a rotation done by hand (runbook steps 1-5 outside the bot)',
  summary: 'Records that a credential was rotated outside the bot on a date (github, google, jwt)',
  usage: '<github|google|jwt> <YYYY-MM-DD>',
  example: 'google 2026-11-30',
  minRole: 'approver',
  guard: 'none',
  positional: { min: 2, max: 2 },
  parse(args) {
    const [credential, date] = args.positional as [string, string];
    const name = credential.toLowerCase();
    if (!isCredential(name)) {
      if (name === 'aws-role' || name === 'aws') throw new UsageError('the AWS role is rotated and reviewed by the IAM area: `/autostack rotate aws-role`, `/autostack iam check`');
      throw new UsageError(`unknown credential "${credential.slice(0, 40)}": one of ${CREDENTIALS.join(', ')}`);
    }
    return { credential: name, date: parseRotationDate(date) };
  },
  async execute(params, ctx) {
    const date = new Date(params.date);
    const now = ctx.clients.clock.now();
    if (date.getTime() > now.getTime() + DAY_MS) throw new UserFacingError(`${isoDate(date)} is in the future: record a rotation once it is done.`);
    if (now.getTime() - date.getTime() > 5 * 365 * DAY_MS) throw new UserFacingError(`${isoDate(date)} is more than five years ago: check the date.`);
    const records = RotationRecords.of(ctx.clients.redis, ctx.config);
    const before = await records.get(params.credential);
    await records.record(params.credential, date, ctx.actor.id, 'manual');
    await ctx.audit.record({
      actor: ctx.actor.id,
      action: `rotate mark ${params.credential}`,
      result: 'recorded',
      channel: ctx.channel,
      detail: `rotated on ${isoDate(date)}${before ? ` (the record said ${isoDate(before.lastRotated)})` : ''}`,
    });
    const due = new Date(date.getTime() + ctx.config.rotation[params.credential] * DAY_MS);
    return reply(`${CREDENTIAL_LABEL[params.credential]} recorded as rotated on ${isoDate(date)}; next due ${isoDate(due)}.`, [], 'channel');
  },
};

// ---------------------------------------------------------------------------------------------
// rotate github | google (the link) and rotate github | google apply (approval)

function linkVerb(provider: OAuthProvider): Verb<Record<string, never>> {
  const label = PROVIDER_LABEL[provider];
  const keys = OAUTH_KEYS[provider];
  return {
    path: ['rotate', provider],
    section: 'rotation',
    runbookStep: `Rotate ${label} OAuth Secrets, steps 1-2: generate new credentials, update backend .env`,
    summary: `Sends you a private one-time link (10 minutes) to a form for the new ${label} client ID and secret, never typed into Slack`,
    usage: '',
    minRole: 'operator',
    guard: 'none',
    flags: { staged: 'boolean', form: 'string' },
    parse(args) {
      if (args.flags.staged || args.flags.form) {
        const flag = args.flags.staged ? '--staged' : `--form ${String(args.flags.form)}`;
        throw new UsageError(`to request the rotation, use \`/autostack rotate ${provider} apply ${flag}\` (an approver must approve it)`);
      }
      return {};
    },
    async execute(_params, ctx) {
      const { namespace } = ctx.config.kubernetes;
      const staged = `stage them in Secret ${namespace}/${ctx.config.backend.stagedSecret} (keys ${keys.id} and ${keys.secret}) and run \`/autostack rotate ${provider} apply --staged\``;
      const publicUrl = ctx.config.http.publicUrl;
      if (!publicUrl) {
        throw new UserFacingError(`The one-time form is not available: http.publicUrl is not configured. Instead, ${staged}.`);
      }
      const { token, expiresAt } = await createLink(ctx.clients.redis, ctx.config.redis.prefix, { user: ctx.actor.id, provider, channel: ctx.channel }, ctx.clients.clock.now());
      const url = formUrl(publicUrl, token);
      return reply(`Your one-time link for the new ${label} OAuth credentials (valid ${LINK_TTL_MS / 60_000} minutes, once)`, [
        { kind: 'text', text: joinText([`*Rotate the ${label} OAuth credentials*\n1. Create new credentials at ${PROVIDER_CONSOLE[provider]} (keep the old ones until the rotation is done).\n2. Paste them into this one-time form (works once, for you only, until ${expiresAt.toISOString().slice(11, 16)} UTC): `, linkTo(url, 'open the form'), `\n3. Once the form is sent, an *Apply in Slack* button appears here: it requests the approval (the same as \`/autostack rotate ${provider} apply --form <id>\`).`]) },
        { kind: 'context', text: `Never paste a secret into Slack. Alternative without the form: ${staged}.` },
      ]);
    },
  };
}

function applyVerb(provider: OAuthProvider): Verb<OAuthApplyParams> {
  const label = PROVIDER_LABEL[provider];
  return {
    path: ['rotate', provider, 'apply'],
    section: 'rotation',
    runbookStep: `Rotate ${label} OAuth Secrets, steps 2-5: update backend .env, docker-compose restart backend, curl /auth/${provider}, revoke the old credentials`,
    summary: `Writes the new ${label} credentials (from the one-time form or the staged Secret) into the backend's Secret, restarts it and checks the OAuth redirect; rolls back on failure`,
    usage: '--form <id> | --staged',
    minRole: 'operator',
    guard: 'approval',
    flags: { form: 'string', staged: 'boolean' },
    parse(args, { config }) {
      const form = args.flags.form;
      const staged = args.flags.staged === true;
      if (form !== undefined && staged) throw new UsageError('give either --form <id> or --staged, not both');
      if (typeof form === 'string') {
        if (!isFormId(form)) throw new UsageError(`--form must be the 12-character id the form showed, got "${form.slice(0, 40)}"`);
        return { provider, source: 'form', formId: form };
      }
      if (staged) return { provider, source: 'staged' };
      throw new UsageError(`say where the new values are: --form <id> (from \`/autostack rotate ${provider}\`) or --staged (Secret ${config.kubernetes.namespace}/${config.backend.stagedSecret})`);
    },
    operation: oauthOperation,
  };
}

// ---------------------------------------------------------------------------------------------
// rotate jwt

const jwtVerb: Verb<JwtParams> = {
  path: ['rotate', 'jwt'],
  section: 'rotation',
  runbookStep: 'Rotate JWT Secrets 1-4: secrets.token_urlsafe(32), update backend .env, notify users, restart backend',
  summary: 'New JWT_SECRET and SECRET_KEY from a secure random source, now or at a set time, with a notice first; ends every session',
  usage: '[--at <ISO time>] [--notify <channel ID>]',
  minRole: 'operator',
  guard: 'approval',
  flags: { at: 'string', notify: 'string' },
  parse: (args) => parseJwt(args.flags),
  operation: jwtOperation,
};

// ---------------------------------------------------------------------------------------------
// The "old credentials revoked" button

const revokedHandler: ActionHandler = {
  action: REVOKED_ACTION,
  minRole: 'operator',
  // The last step of `rotate <provider> apply`: its channel limits apply.
  stepOf: (value) => {
    const provider = /^(github|google):/.exec(value)?.[1];
    return provider ? ['rotate', provider, 'apply'] : undefined;
  },
  async handle(value, ctx) {
    const match = /^(github|google):(\d{1,15})$/.exec(value);
    if (!match) return errorReply('This button is not valid any more.');
    const provider = match[1] as OAuthProvider;
    const rotatedAt = new Date(Number(match[2]));
    const records = RotationRecords.of(ctx.clients.redis, ctx.config);
    const record = await records.get(provider);
    const result = await records.markRevoked(provider, rotatedAt, ctx.actor.id, ctx.clients.clock.now());
    const label = PROVIDER_LABEL[provider];
    if (!result.first) return reply(md`Already recorded: ${mention(result.by)} marked the old ${label} credentials as revoked at ${result.at.slice(0, 16).replace('T', ' ')} UTC.`);
    const oldId = record && record.lastRotated.getTime() === rotatedAt.getTime() ? record.oldClientId : undefined;
    await ctx.audit.record({
      actor: ctx.actor.id,
      action: `rotate ${provider} revoke`,
      result: 'old credentials revoked at the provider',
      channel: ctx.channel,
      detail: `rotation of ${rotatedAt.toISOString()}${oldId ? `, old client ID ${oldId}` : ''}`,
    });
    return reply(md`${mention(ctx.actor.id)} recorded that the old ${label} credentials${oldId ? md` (client ID ${oldId})` : ''} were revoked at the provider. The rotation is complete.`, [], 'channel');
  },
};

// ---------------------------------------------------------------------------------------------
// Schedule and App Home

export const rotationReminderSchedule: Schedule = {
  name: 'rotation-reminder',
  job: ROTATION_REMINDER_JOB,
  // Reminders go to the ops channel; without one there is nowhere to post, so nothing is scheduled.
  cron: (config) => (config.channels.ops ? { pattern: config.rotation.reminderCron, tz: config.rotation.timezone } : undefined),
  data: (): RotationReminderData => ({}),
  // The reminder posts itself when something is due; a daily "ran fine" line would be noise.
  quiet: true,
};

async function home(ctx: CommandContext): Promise<Part[]> {
  const statuses = await allStatuses(RotationRecords.of(ctx.clients.redis, ctx.config), ctx.config, ctx.clients.clock.now());
  const attention = statuses.filter((s) => s.state !== 'ok');
  const parts: Part[] = [{ kind: 'heading', text: 'Credential rotation' }];
  if (attention.length === 0) {
    const next = statuses.filter((s) => s.dueAt).sort((a, b) => a.dueAt!.getTime() - b.dueAt!.getTime())[0];
    parts.push({ kind: 'text', text: `:white_check_mark: Nothing due within ${ctx.config.rotation.dueSoonDays} days.${next ? ` Next: ${CREDENTIAL_LABEL[next.credential]} on ${isoDate(next.dueAt!)}.` : ''}` });
    return parts;
  }
  const lines = attention.map((s) => `${stateIcon(s.state)} *${CREDENTIAL_LABEL[s.credential]}*: ${stateText(s)}${s.dueAt ? ` (due ${isoDate(s.dueAt)})` : ''}${s.state === 'unknown' ? '' : ` → \`${ROTATE_COMMAND[s.credential]}\``}`);
  parts.push({ kind: 'text', text: lines.join('\n') }, { kind: 'context', text: 'Details: `/autostack rotate status`' });
  return parts;
}

export const rotateVerbs: Verb<any>[] = [statusVerb, markVerb, linkVerb('github'), applyVerb('github'), linkVerb('google'), applyVerb('google'), jwtVerb]; // eslint-disable-line @typescript-eslint/no-explicit-any

export const rotateModule: CommandModule = {
  area: 'rotate',
  verbs: rotateVerbs,
  actions: [revokedHandler, startHandler, applyFormHandler],
  schedules: [rotationReminderSchedule],
  routes: formRoutes,
  home,
};
