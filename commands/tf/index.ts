/**
 * Terraform state: lock inspection, safe force-unlock, state versions and safe restore.
 * Runbook: "Scenario 5: Terraform State Locked" and "Terraform State Backups".
 */
import type { ActionHandler, CommandModule, Verb } from '../../src/core/types.ts';
import { UsageError, UserFacingError } from '../../src/core/types.ts';
import { errorReply, reply, table } from '../../src/core/result.ts';
import type { Part } from '../../src/core/result.ts';
import { tfClients } from './clients.ts';
import { lockCreated } from './lockinfo.ts';
import { formatDuration } from '../../src/core/durations.ts';
import { describeWhere, readLocks } from './locks.ts';
import type { HeldLock } from './locks.ts';
import type { RestoreParams } from './restore.ts';
import { restoreOperation, unlockOperation } from './operations.ts';
import { isStateName, resolveState, s3Uri, stateFor, tfStates } from './states.ts';
import type { TfState } from './states.ts';
import type { UnlockParams } from './unlock.ts';
import { bucketVersioning, isValidVersionId, listStateVersions, restorableVersions } from './versions.ts';
import { lockedStateChoices, restoreChoices, severalStates, stateChoices } from './choices.ts';
import { tfHome } from './status.ts';

export const DEFAULT_VERSIONS = 10;
export const MAX_VERSIONS = 50;

function lockParts(state: TfState, locks: HeldLock[], now: Date): Part[] {
  const where = [state.s3Lock ? `S3 lock file ${s3Uri(state.bucket, state.lockFileKey)}` : '', state.lockTable ? `DynamoDB table ${state.lockTable}, LockID ${state.lockId}` : '']
    .filter(Boolean)
    .join(' and ');
  const parts: Part[] = [{ kind: 'heading', text: `${state.name}: ${s3Uri(state.bucket, state.key)}` }];
  if (locks.length === 0) {
    parts.push({ kind: 'text', text: ':white_check_mark: no lock held' }, { kind: 'context', text: `Checked ${where}.` });
    return parts;
  }
  // Terraform's migration setup holds the same lock in both places: show it once.
  const groups: HeldLock[][] = [];
  for (const lock of locks) {
    const same = groups.find((g) => g[0]!.info && lock.info && g[0]!.raw === lock.raw);
    if (same) same.push(lock);
    else groups.push([lock]);
  }
  for (const group of groups) {
    const lock = group[0]!;
    const held = `Held in ${group.map((l) => describeWhere(l)).join(' and ')}.`;
    const info = lock.info;
    if (!info) {
      parts.push({ kind: 'text', text: `:lock: locked, but the lock's content is not Terraform lock JSON: \`${lock.raw.slice(0, 200)}\`` }, { kind: 'context', text: held });
      continue;
    }
    const created = lockCreated(info);
    parts.push(
      { kind: 'text', text: `:lock: locked by *${info.Who || '(unknown)'}*` },
      {
        kind: 'fields',
        fields: [
          ['Lock ID', info.ID || '(none)'],
          ['Operation', info.Operation || '(unknown)'],
          ['Since', info.Created || '(unknown)'],
          ['Age', created ? formatDuration(now.getTime() - created.getTime()) : 'unknown'],
          ['Path', info.Path || '(none)'],
          ['Terraform', info.Version || '(unknown)'],
          ...(info.Info ? ([['Info', info.Info]] as const) : []),
        ],
      },
      { kind: 'context', text: held },
    );
  }
  if (locks.length > 1 && new Set(locks.map((l) => l.info?.ID)).size > 1) {
    parts.push({ kind: 'text', text: ':warning: The S3 lock file and the DynamoDB lock carry different lock IDs.' });
  }
  return parts;
}

const lockVerb: Verb<{ state?: string }> = {
  path: ['tf', 'lock'],
  section: 'incident',
  runbookStep: 'Scenario 5, step 1: aws dynamodb scan --table-name autostack-tf-locks',
  summary: "Who holds each Terraform state's lock, for what and since when (reads the lock keys; never scans)",
  usage: '[state]',
  minRole: 'viewer',
  guard: 'none',
  positional: { min: 0, max: 1 },
  parse(args, { config }) {
    const name = args.positional[0];
    return name === undefined ? {} : { state: resolveState(config, name).name };
  },
  async execute(params, ctx) {
    const states = params.state ? [stateFor(ctx.config, params.state)] : tfStates(ctx.config);
    const clients = await tfClients(ctx.clients, ctx.actor.id);
    const now = ctx.clients.clock.now();
    const results = await Promise.allSettled(states.map((s) => readLocks(clients, s)));
    const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failures.length === states.length) {
      const first = failures[0]!.reason as Error;
      if (states.length === 1) throw first;
      throw new UserFacingError(failures.map((f, i) => `${states[i]!.name}: ${(f.reason as Error).message}`).join('\n'), first instanceof UserFacingError ? first.hint : undefined);
    }
    const parts: Part[] = [];
    let locked = 0;
    results.forEach((r, i) => {
      const state = states[i]!;
      if (i > 0) parts.push({ kind: 'divider' });
      if (r.status === 'rejected') {
        parts.push({ kind: 'heading', text: `${state.name}: ${s3Uri(state.bucket, state.key)}` }, { kind: 'text', text: `:warning: ${(r.reason as Error).message}` });
        return;
      }
      if (r.value.length) locked++;
      parts.push(...lockParts(state, r.value, now));
    });
    const summary =
      locked === 0
        ? `No Terraform state lock held (${states.map((s) => s.name).join(', ')}).`
        : `${locked} of ${states.length} Terraform state${states.length === 1 ? '' : 's'} locked.`;
    return reply(summary, parts);
  },
};

const unlockVerb: Verb<UnlockParams> = {
  path: ['tf', 'unlock'],
  section: 'incident',
  runbookStep: 'Scenario 5, steps 3-4: terraform force-unlock LOCK_ID / aws dynamodb delete-item --key LockID',
  summary: 'Removes exactly the lock shown in the approval (conditional delete), never the checksum item',
  usage: '[state]',
  minRole: 'operator',
  guard: 'approval',
  positional: { min: 0, max: 1 },
  picker: { label: 'Locked state', choices: lockedStateChoices, whenOmitted: severalStates },
  parse(args, { config }) {
    return { state: resolveState(config, args.positional[0]).name, requestedAt: new Date().toISOString() };
  },
  operation: unlockOperation,
};

export interface VersionsParams {
  state: string;
  count: number;
}

function parseCount(word: string): number {
  if (!/^\d+$/.test(word)) throw new UsageError(`n must be a whole number from 1 to ${MAX_VERSIONS}, got "${word}"`);
  const n = Number(word);
  if (n < 1 || n > MAX_VERSIONS) throw new UsageError(`n must be from 1 to ${MAX_VERSIONS}, got ${n}`);
  return n;
}

const versionsVerb: Verb<VersionsParams> = {
  path: ['tf', 'versions'],
  section: 'backup',
  runbookStep: 'Terraform State Backups: aws s3api list-object-versions --bucket autostack-tfstate --prefix autostack/terraform.tfstate',
  summary: "The state object's versions, newest first, with serial, lineage and Terraform version",
  usage: '[state] [n]',
  minRole: 'viewer',
  guard: 'none',
  positional: { min: 0, max: 2 },
  picker: { label: 'State', choices: stateChoices, whenOmitted: severalStates },
  parse(args, { config }) {
    const [a, b] = args.positional;
    if (b !== undefined) return { state: resolveState(config, a).name, count: parseCount(b) };
    if (a !== undefined && /^\d+$/.test(a) && !isStateName(config, a)) return { state: resolveState(config).name, count: parseCount(a) };
    return { state: resolveState(config, a).name, count: DEFAULT_VERSIONS };
  },
  async execute(params, ctx) {
    const state = stateFor(ctx.config, params.state);
    const clients = await tfClients(ctx.clients, ctx.actor.id);
    const versions = await listStateVersions(clients.s3, state, params.count);
    const uri = s3Uri(state.bucket, state.key);
    if (versions.length === 0) {
      throw new UserFacingError(`There is no object at ${uri} (no versions at all). Check the state key in terraform.states.`);
    }
    const rows = versions.map((v) => [
      [v.isLatest ? 'current' : '', v.deleteMarker ? 'delete marker' : ''].filter(Boolean).join(', '),
      v.versionId,
      v.lastModified ? v.lastModified.toISOString().slice(0, 19).replace('T', ' ') : '',
      v.size !== undefined ? String(v.size) : '',
      v.summary?.serial !== undefined ? String(v.summary.serial) : '',
      v.summary?.lineage ?? '',
      v.summary?.terraformVersion ?? '',
    ]);
    const deleted = versions[0]?.isLatest && versions[0].deleteMarker;
    // Only a note here: listing works without versioning, restoring does not.
    const versioning = await bucketVersioning(clients.s3, state.bucket).catch(() => undefined);
    return reply(`${versions.length} newest versions of ${uri}${deleted ? ' (the state is currently deleted)' : ''}`, [
      { kind: 'text', text: `*${state.name}*: ${uri}` },
      table(['', 'version ID', 'time (UTC)', 'bytes', 'serial', 'lineage', 'terraform'], rows),
      ...restoreButtons(versions, state.name, versioning),
      versioning === 'Enabled' || versioning === undefined
        ? { kind: 'context', text: `Restore one with its button or \`/autostack tf restore <version-id> ${state.name}\` (needs approval).` }
        : { kind: 'text', text: `:warning: Versioning is ${versioning === 'Suspended' ? 'suspended' : 'not enabled'} on bucket ${state.bucket}: a restore is impossible, and each write replaces the state for good.` },
    ]);
  },
};

/** At most this many Restore buttons under `tf versions` (the newest restorable versions). */
const MAX_RESTORE_BUTTONS = 5;

/** A Restore button per earlier version with content: it requests `tf restore` for whoever clicks, through its usual guard. */
function restoreButtons(versions: Awaited<ReturnType<typeof listStateVersions>>, state: string, versioning: string | undefined): Part[] {
  if (versioning !== 'Enabled' && versioning !== undefined) return [];
  const restorable = restorableVersions(versions).slice(0, MAX_RESTORE_BUTTONS);
  if (!restorable.length) return [];
  return [{ kind: 'buttons', buttons: restorable.map((v) => ({ label: `Restore ${v.versionId.slice(0, 12)}${v.summary?.serial !== undefined ? ` (serial ${v.summary.serial})` : ''}`, action: RESTORE_ACTION, value: JSON.stringify({ v: v.versionId, s: state }) })) }];
}

const RESTORE_ACTION = 'tf.restore';

/** The Restore button of `tf versions`: the same as typing `/autostack tf restore <version-id> <state>`. */
const restoreAction: ActionHandler = {
  action: RESTORE_ACTION,
  // The verb's own role, channel and approval are checked by ctx.request.
  minRole: 'viewer',
  async handle(value, ctx) {
    let parsed: { v?: unknown; s?: unknown };
    try {
      parsed = JSON.parse(value) as { v?: unknown; s?: unknown };
    } catch {
      return errorReply('This button is malformed; run `/autostack tf versions` again.');
    }
    if (typeof parsed.v !== 'string' || typeof parsed.s !== 'string') return errorReply('This button is malformed; run `/autostack tf versions` again.');
    await ctx.request(['tf', 'restore'], { positional: [parsed.v, parsed.s], flags: {} });
    return undefined;
  },
};

const restoreVerb: Verb<RestoreParams> = {
  path: ['tf', 'restore'],
  section: 'backup',
  runbookStep: 'Terraform State Backups: aws s3api get-object --bucket autostack-tfstate --key autostack/terraform.tfstate --version-id VERSION_ID',
  summary: 'Makes an earlier state version current again under the state lock, with a matching checksum and an undo',
  usage: '<version-id> [state] [--allow-other-lineage]',
  minRole: 'operator',
  guard: 'approval',
  positional: { min: 1, max: 2 },
  picker: { label: 'Version', choices: restoreChoices },
  flags: { 'allow-other-lineage': 'boolean' },
  parse(args, { config }) {
    const raw = args.positional[0]!;
    // Pasted from Slack, an ID may come wrapped in backticks.
    const versionId = raw.replace(/^`+|`+$/g, '');
    if (!isValidVersionId(versionId)) {
      throw new UsageError(`"${raw.slice(0, 80)}" is not an S3 version ID (letters, digits and . _ - + / = only); copy one from \`/autostack tf versions\``);
    }
    return {
      versionId,
      state: resolveState(config, args.positional[1]).name,
      allowOtherLineage: args.flags['allow-other-lineage'] === true,
    };
  },
  operation: restoreOperation,
};

export const tfModule: CommandModule = {
  area: 'tf',
  verbs: [lockVerb, unlockVerb, versionsVerb, restoreVerb],
  actions: [restoreAction],
  home: tfHome,
};
