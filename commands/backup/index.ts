/**
 * Backup & Recovery / Database Backups: scheduled and manual pg_dump to S3, list, verify, restore.
 * Runbook: "0 2 * * * docker exec autostack-db pg_dump -U postgres autostack > /backups/autostack-$(date +%Y%m%d).sql",
 * "pg_dump -U postgres autostack > backup.sql", "psql -U postgres autostack < backup.sql".
 */
import { pointToThread } from '../shared/threads.ts';
import type { ActionHandler, Choice, CommandContext, CommandModule, Schedule, Verb } from '../../src/core/types.ts';
import { UsageError } from '../../src/core/types.ts';
import { reply, table } from '../../src/core/result.ts';
import type { Part } from '../../src/core/result.ts';
import { BACKUP_JOB, BACKUP_VERIFY_JOB } from './queues.ts';
import type { BackupJobData, VerifyJobData } from './queues.ts';
import { restoreOperation } from './operations.ts';
import { durationChart, listBackups, sizeChart } from './list.ts';
import { listBackupObjects } from './objects.ts';
import type { ListedBackup } from './list.ts';
import { formatBytes, formatTime, parseBackupName } from './names.ts';
import { DATABASE_NAME } from './pg.ts';
import type { RestoreParams } from './restore.ts';
import { backupStore, configuredDatabase, dbSettings, s3Location } from './settings.ts';
import { backupHome } from './status.ts';

export const DEFAULT_LIST = 10;
export const MAX_LIST = 50;
export const MAX_REASON = 200;

/** The backups to pick from, newest first, with their time and size. */
async function backupChoices(ctx: CommandContext): Promise<Choice[]> {
  const backups = await listBackupObjects(backupStore(ctx.config, ctx.clients, ctx.actor.id));
  return backups.map((b) => ({ label: `${b.name} (${formatBytes(b.size)})`, value: b.name }));
}

/** A backup name as typed: the configured prefix and wrapping backticks are tolerated. */
function parseName(raw: string, prefix: string): string {
  let name = raw.replace(/^`+|`+$/g, '');
  if (prefix && name.startsWith(prefix)) name = name.slice(prefix.length);
  if (!parseBackupName(name)) {
    throw new UsageError(`"${raw.slice(0, 80)}" is not a backup name (e.g. autostack-20261128-0200.dump); see \`/autostack backup list\``);
  }
  return name;
}

const nowVerb: Verb<BackupJobData> = {
  path: ['backup', 'now'],
  section: 'backup',
  runbookStep: 'Manual Backup: docker exec autostack-db pg_dump -U postgres autostack > backup.sql',
  summary: 'Backs up the database now: pg_dump streamed to S3 with size and SHA-256 recorded, then retention',
  usage: '[reason]',
  minRole: 'operator',
  guard: 'none',
  positional: { min: 0, max: 60 },
  parse(args) {
    const reason = args.positional.join(' ').trim();
    if (reason.length > MAX_REASON) throw new UsageError(`the reason is ${reason.length} characters; keep it under ${MAX_REASON}`);
    return reason ? { trigger: 'manual', reason } : { trigger: 'manual' };
  },
  async execute(params, ctx) {
    dbSettings(ctx.config);
    const ref = await ctx.jobs.start(BACKUP_JOB, params, { channel: ctx.channel, requestedBy: ctx.actor.id });
    return reply(
      await pointToThread(ctx.jobs, ref, `Backing up the database to ${s3Location(ctx.config)}; bytes written, rate and duration are in the job's thread`),
    );
  },
};

const listVerb: Verb<{ count: number }> = {
  path: ['backup', 'list'],
  section: 'backup',
  runbookStep: 'Database Backups: ls /backups/autostack-*.sql',
  summary: 'The newest backups with time, size, checksum state and who or what started them, with Verify / Restore buttons',
  usage: '[n]',
  minRole: 'viewer',
  guard: 'none',
  positional: { min: 0, max: 1 },
  parse(args) {
    const raw = args.positional[0];
    if (raw === undefined) return { count: DEFAULT_LIST };
    if (!/^\d+$/.test(raw)) throw new UsageError(`n must be a whole number from 1 to ${MAX_LIST}, got "${raw.slice(0, 40)}"`);
    const count = Number(raw);
    if (count < 1 || count > MAX_LIST) throw new UsageError(`n must be from 1 to ${MAX_LIST}, got ${count}`);
    return { count };
  },
  async execute(params, ctx) {
    const store = backupStore(ctx.config, ctx.clients, ctx.actor.id);
    const { backups, total } = await listBackups(store, params.count);
    const where = s3Location(ctx.config);
    if (backups.length === 0) {
      return reply(`No backups in ${where} yet.`, [
        { kind: 'text', text: `No backups in ${where} yet.` },
        { kind: 'context', text: 'Take one with `/autostack backup now [reason]`.' },
      ]);
    }
    const rows = backups.map((b) => [
      b.name,
      formatTime(b.time),
      formatBytes(b.size),
      b.checksum === 'verified' || b.checksum === 'verify failed' ? `${b.checksum} ${b.verification?.at.slice(0, 10) ?? ''}`.trim() : b.checksum,
      !b.meta.startedBy ? '?' : /^[UW][A-Z0-9]{2,}$/.test(b.meta.startedBy) ? `<@${b.meta.startedBy}>` : b.meta.startedBy,
      (b.meta.reason ?? '').slice(0, 80),
    ]);
    const summary = `${backups.length} newest of ${total} backup${total === 1 ? '' : 's'} in ${where}`;
    const charts = [sizeChart(backups, where), durationChart(backups, where)].flatMap((chart) => (chart ? [{ kind: 'chart' as const, chart }] : []));
    return reply(summary, [
      { kind: 'text', text: `*${summary}*` },
      table(['name', 'time', 'size', 'checksum', 'started by', 'reason'], rows),
      ...rowButtons(backups),
      { kind: 'context', text: 'Checksum: verified = restored into a scratch database and matched; recorded = SHA-256 stored at upload, not yet verified.' },
      ...charts,
    ]);
  },
};

/** Buttons for at most this many of the newest listed backups. */
const MAX_ROW_BUTTONS = 5;
const ROW_ACTION = 'backup.row';
/** Checksum states a restore is not offered for: the backup is known to be incomplete or unreadable. */
const NOT_RESTORABLE = new Set(['verify failed', 'size mismatch', 'missing']);

/** Verify and Restore per newest backup: each requests that verb for whoever clicks, through its usual role and guard. */
function rowButtons(backups: ListedBackup[]): Part[] {
  return backups.slice(0, MAX_ROW_BUTTONS).map((b) => ({
    kind: 'buttons' as const,
    buttons: [
      { label: `Verify ${b.name}`, action: ROW_ACTION, value: JSON.stringify({ verb: 'verify', name: b.name }) },
      ...(NOT_RESTORABLE.has(b.checksum) ? [] : [{ label: `Restore ${b.name}`, action: ROW_ACTION, value: JSON.stringify({ verb: 'restore', name: b.name }) }]),
    ],
  }));
}

/** The Verify and Restore buttons of `backup list`: the same as typing `/autostack backup verify|restore <name>`. */
const rowAction: ActionHandler = {
  action: ROW_ACTION,
  // The verb's own role, channel limits and approval are checked by ctx.request.
  minRole: 'viewer',
  async handle(value, ctx) {
    let parsed: { verb?: unknown; name?: unknown };
    try {
      parsed = JSON.parse(value) as typeof parsed;
    } catch {
      throw new UsageError('this button is out of date; run `/autostack backup list` again');
    }
    if ((parsed.verb !== 'verify' && parsed.verb !== 'restore') || typeof parsed.name !== 'string') {
      throw new UsageError('this button is out of date; run `/autostack backup list` again');
    }
    await ctx.request(['backup', parsed.verb], { positional: [parsed.name], flags: {} });
    return undefined;
  },
};

const verifyVerb: Verb<VerifyJobData> = {
  path: ['backup', 'verify'],
  section: 'backup',
  runbookStep: 'Restore from Backup (rehearsal): psql -U postgres autostack < backup.sql, into a scratch database',
  summary: 'Restores a backup into a scratch database, checks its SHA-256, counts rows per table, drops the scratch database',
  usage: '<name|latest>',
  example: 'latest',
  minRole: 'operator',
  guard: 'none',
  positional: { min: 1, max: 1 },
  picker: { label: 'Backup', choices: backupChoices },
  parse(args, { config }) {
    const raw = args.positional[0]!;
    return { name: raw === 'latest' ? 'latest' : parseName(raw, config.backup.prefix) };
  },
  async execute(params, ctx) {
    dbSettings(ctx.config);
    const ref = await ctx.jobs.start(BACKUP_VERIFY_JOB, params, { channel: ctx.channel, requestedBy: ctx.actor.id });
    return reply(await pointToThread(ctx.jobs, ref, `Verifying backup ${params.name} in a scratch database; the result is in the job's thread`));
  },
};

const restoreVerb: Verb<RestoreParams> = {
  path: ['backup', 'restore'],
  section: 'backup',
  runbookStep: 'Restore from Backup: docker exec -i autostack-db psql -U postgres autostack < backup.sql',
  summary: 'Restores a backup into a database after a safety backup, in one transaction (a failure changes nothing)',
  usage: '<name> [--target db]',
  example: 'autostack-20261128-0200.dump',
  minRole: 'operator',
  guard: 'approval',
  positional: { min: 1, max: 1 },
  picker: { label: 'Backup', choices: backupChoices },
  flags: { target: 'string' },
  parse(args, { config }) {
    const raw = args.positional[0]!;
    if (raw === 'latest') throw new UsageError('restore needs the exact backup name (not "latest"), so the approval names what is restored; see `/autostack backup list`');
    const name = parseName(raw, config.backup.prefix);
    const flag = args.flags.target;
    if (flag === true) throw new UsageError('--target needs a database name, e.g. --target autostack');
    const target = flag ?? configuredDatabase(config);
    if (!target) throw new UsageError('no database is configured (database.url / DATABASE_URL): pass --target <database>');
    if (!DATABASE_NAME.test(target)) throw new UsageError(`"${target.slice(0, 80)}" is not a database name (letters, digits, _ $ -; starting with a letter or _)`);
    return { name, target };
  },
  approverMustType(params) {
    return { label: `Type the name of the database that will be overwritten (${params.target})`, expected: params.target };
  },
  operation: restoreOperation,
};

/** The daily backup: `backup.schedule` in `backup.timezone`; off while no database is configured. */
export const dailyBackupSchedule: Schedule = {
  name: 'backup-daily',
  cron: (config) => (config.database.url ? { pattern: config.backup.schedule, tz: config.backup.timezone } : undefined),
  job: BACKUP_JOB,
  data: (): BackupJobData => ({ trigger: 'schedule' }),
};

export const backupModule: CommandModule = {
  area: 'backup',
  verbs: [nowVerb, listVerb, verifyVerb, restoreVerb],
  actions: [rowAction],
  schedules: [dailyBackupSchedule],
  home: backupHome,
};
