/**
 * What the Terraform commands offer to pick when their state or version is left out: the locks
 * held now (DynamoDB items and S3 lock files), the states with their current serial, and the
 * earlier versions S3 keeps.
 */
import type { Config } from '../../src/config.ts';
import type { Choice, CommandContext } from '../../src/core/types.ts';
import { UserFacingError } from '../../src/core/types.ts';
import { tfClients } from './clients.ts';
import { lockCreated } from './lockinfo.ts';
import { formatDuration } from '../../src/core/durations.ts';
import { readLocks } from './locks.ts';
import type { HeldLock } from './locks.ts';
import { s3Uri, tfStates } from './states.ts';
import type { TfState } from './states.ts';
import { listStateVersions, restorableVersions } from './versions.ts';
import type { StateVersion } from './versions.ts';

/** Earlier versions offered per state in the `tf restore` picker (each one's summary is read). */
const RESTORE_CHOICES_PER_STATE = 5;

/** A state left out means the only one configured; with more, the person picks. */
export function severalStates(config: Config): boolean {
  return config.terraform.states.length > 1;
}

function utc(at: Date): string {
  return `${at.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

function lockLabel(state: TfState, lock: HeldLock, now: Date): string {
  if (!lock.info) return `${state.name}: locked (the lock is not Terraform lock JSON)`;
  const created = lockCreated(lock.info);
  const age = created ? `, ${formatDuration(now.getTime() - created.getTime())} old` : '';
  return `${state.name}: locked by ${lock.info.Who || '(unknown)'} for ${lock.info.Operation || '(unknown)'}${age}`;
}

/** `tf unlock`: the states whose lock is held now; a state whose lock could not be read is offered with the reason. */
export async function lockedStateChoices(ctx: CommandContext): Promise<Choice[]> {
  const states = tfStates(ctx.config);
  const clients = await tfClients(ctx.clients, ctx.actor.id);
  const now = ctx.clients.clock.now();
  const results = await Promise.allSettled(states.map((s) => readLocks(clients, s)));
  if (results.every((r) => r.status === 'rejected')) throw (results[0] as PromiseRejectedResult).reason;
  const choices = results.flatMap((r, i): Choice[] => {
    const state = states[i]!;
    if (r.status === 'rejected') return [{ label: `${state.name}: lock not read (${(r.reason as Error).message})`, value: state.name }];
    return r.value.length ? [{ label: lockLabel(state, r.value[0]!, now), value: state.name }] : [];
  });
  if (!choices.length) {
    throw new UserFacingError(
      `No Terraform state is locked: read just now for ${states.map((s) => s.name).join(', ')} (DynamoDB lock items and S3 lock files). Nothing to unlock.`,
      '`/autostack tf lock` shows each state and its lock.',
    );
  }
  return choices;
}

function currentLabel(state: TfState, current: StateVersion | undefined): string {
  if (!current) return `${state.name}: no state object yet`;
  if (current.deleteMarker) return `${state.name}: deleted (a delete marker is current)`;
  const serial = current.summary?.serial !== undefined ? `serial ${current.summary.serial}` : 'current version';
  return `${state.name}: ${serial}${current.lastModified ? `, written ${utc(current.lastModified)}` : ''}`;
}

/** `tf versions`: each configured state with its current serial as S3 has it now. */
export async function stateChoices(ctx: CommandContext): Promise<Choice[]> {
  const states = tfStates(ctx.config);
  const { s3 } = await tfClients(ctx.clients, ctx.actor.id);
  const results = await Promise.allSettled(states.map((s) => listStateVersions(s3, s, 1)));
  return results.map((r, i) => {
    const state = states[i]!;
    const label = r.status === 'fulfilled' ? currentLabel(state, r.value[0]) : `${state.name}: not read (${(r.reason as Error).message})`;
    return { label, value: state.name };
  });
}

/** `tf restore`: the newest earlier versions of every state, each standing for `<version-id> <state>`. */
export async function restoreChoices(ctx: CommandContext): Promise<Choice[]> {
  const states = tfStates(ctx.config);
  const { s3 } = await tfClients(ctx.clients, ctx.actor.id);
  const listed = await Promise.all(states.map((s) => listStateVersions(s3, s, RESTORE_CHOICES_PER_STATE + 1)));
  const choices = listed.flatMap((versions, i) =>
    restorableVersions(versions).map((v) => {
      const serial = v.summary?.serial !== undefined ? `serial ${v.summary.serial}, ` : '';
      const when = v.lastModified ? `${utc(v.lastModified)}, ` : '';
      return { label: `${states[i]!.name}: ${serial}${when}version ${v.versionId}`, value: `${v.versionId} ${states[i]!.name}` };
    }),
  );
  if (!choices.length) {
    const where = states.map((s) => s3Uri(s.bucket, s.key)).join(', ');
    throw new UserFacingError(`No earlier state version to restore among the newest ${RESTORE_CHOICES_PER_STATE + 1} versions of ${where} (read just now).`, '`/autostack tf versions <state> 50` lists more; `tf restore <version-id> <state>` restores any of them.');
  }
  return choices;
}
