/**
 * Force-unlocking a Terraform state safely (runbook: "Scenario 5: Terraform State Locked").
 *
 * The runbook's manual `aws dynamodb delete-item --key '{"LockID": ...}'` deletes whatever is there:
 * the lock of a run that started a second ago, or (with a wrong key) Terraform's checksum item.
 * Here the approval shows one exact lock, and the job deletes exactly that lock and nothing else:
 * a conditional delete on its content, so a lock that changed or vanished in between is left alone
 * and reported. The checksum item `<bucket>/<key>-md5` is never addressed.
 */
import type { Plan } from '../../src/core/types.ts';
import { UserFacingError } from '../../src/core/types.ts';
import { formatAge, lockCreated } from './lockinfo.ts';
import { describeLock, describeWhere, LockChangedError, readLocks, removeLock, sameLock } from './locks.ts';
import type { HeldLock, TfClients } from './locks.ts';
import { s3ObjectArn, s3Uri, tableArn } from './states.ts';
import type { TfState } from './states.ts';

export interface UnlockParams {
  state: string;
  /**
   * When the unlock was asked for (ISO time). The plan states the lock's age at that moment, so
   * the approved plan (and its hash) stays the same while the approver reads it.
   */
  requestedAt: string;
}

/** The locks held on the state; refuses when there is none. */
export async function inspectUnlock(clients: TfClients, state: TfState): Promise<HeldLock[]> {
  const locks = await readLocks(clients, state);
  if (locks.length === 0) {
    const where = [state.s3Lock ? `S3 lock file ${s3Uri(state.bucket, state.lockFileKey)}` : '', state.lockTable ? `DynamoDB table ${state.lockTable} (LockID ${state.lockId})` : '']
      .filter(Boolean)
      .join(' and ');
    throw new UserFacingError(`No lock is held on Terraform state "${state.name}" (${where}). Nothing to unlock.`);
  }
  return locks;
}

function lockLine(lock: HeldLock, requestedAt: Date): string {
  const info = lock.info;
  if (!info) return `Lock: unreadable content ${JSON.stringify(lock.raw.slice(0, 200))} in ${describeWhere(lock)}`;
  const created = lockCreated(info);
  const ageMs = created ? requestedAt.getTime() - created.getTime() : undefined;
  const age = ageMs === undefined ? 'age unknown' : ageMs < 0 ? 'taken after the unlock was requested' : `${formatAge(ageMs)} old when requested`;
  return [
    `Lock ID ${info.ID || '(none)'}`,
    `Who ${info.Who || '(unknown)'}`,
    `Operation ${info.Operation || '(unknown)'}`,
    `Created ${info.Created || '(unknown)'} (${age})`,
    `Path ${info.Path || '(none)'}`,
    `Terraform ${info.Version || '(unknown)'}`,
    ...(info.Info ? [`Info ${info.Info}`] : []),
    `in ${describeWhere(lock)}`,
  ].join(' · ');
}

export function unlockPlan(
  state: TfState,
  locks: HeldLock[],
  options: { requestedAt: Date; warnYoungerThanMs: number; warnYoungerThan: string; region: string },
): Plan {
  const first = locks[0]!;
  const steps: string[] = [];
  for (const lock of locks) {
    steps.push(lockLine(lock, options.requestedAt));
    if (lock.kind === 'dynamodb') {
      steps.push(
        `Re-read LockID "${lock.lockId}" in DynamoDB table ${lock.table} and delete it only if its Info is still exactly this lock (conditional DeleteItem on Info); stop if it changed or vanished`,
      );
    } else {
      steps.push(
        `Re-read ${s3Uri(lock.bucket, lock.key)} and delete it only if it is still this lock (conditional DeleteObject, If-Match ${lock.etag}); stop if it changed or vanished`,
      );
    }
  }
  if (state.lockTable) steps.push(`Leave Terraform's checksum item LockID "${state.digestId}" untouched`);

  const warnings: string[] = [];
  for (const lock of locks) {
    const created = lockCreated(lock.info);
    if (created && options.requestedAt.getTime() - created.getTime() < options.warnYoungerThanMs) {
      const ageMs = options.requestedAt.getTime() - created.getTime();
      const how = ageMs < 0 ? 'was taken after the unlock was requested' : `was only ${formatAge(ageMs)} old when the unlock was requested`;
      warnings.push(
        `This lock ${how} (younger than ${options.warnYoungerThan}): a Terraform run may still be going. Ask ${lock.info?.Who || 'its owner'} before approving; removing the lock of a running apply can corrupt the state.`,
      );
      break;
    }
  }
  if (locks.some((l) => !l.info)) warnings.push('A lock\'s content is not Terraform lock JSON; it is removed only if it is still exactly the content shown.');
  const ids = new Set(locks.map((l) => l.info?.ID));
  if (locks.length > 1 && ids.size > 1) warnings.push('The S3 lock file and the DynamoDB lock carry different lock IDs: two different runs hold them.');

  return {
    title: `Force-unlock Terraform state "${state.name}": remove ${describeLock(first)}${locks.length > 1 ? ' (S3 lock file and DynamoDB lock)' : ''}`,
    steps,
    resources: locks.map((l) =>
      l.kind === 'dynamodb' ? `${tableArn(options.region, l.table)} (item LockID "${l.lockId}")` : s3ObjectArn(l.bucket, l.key),
    ),
    ...(warnings.length ? { warnings } : {}),
  };
}

/**
 * Removes exactly the expected locks. First re-reads them all and stops before touching anything
 * if one changed; then deletes each conditionally. If a later one fails, the error says which
 * were already removed.
 */
export async function performUnlock(
  clients: TfClients,
  state: TfState,
  expected: HeldLock[],
  options: { now: () => Date; step: (text: string) => Promise<void> },
): Promise<HeldLock[]> {
  const current = await readLocks(clients, state);
  for (const lock of expected) {
    const now = current.find((c) => c.kind === lock.kind);
    if (!now || !sameLock(now, lock)) throw new LockChangedError(lock, now, options.now());
  }
  const extra = current.filter((c) => !expected.some((e) => e.kind === c.kind));
  await options.step(`Re-read the lock: still ${describeLock(expected[0]!, options.now())}.`);
  const removed: HeldLock[] = [];
  for (const lock of expected) {
    try {
      await removeLock(clients, lock, options.now());
    } catch (error) {
      if (removed.length && error instanceof Error) {
        const done = removed.map((r) => describeWhere(r)).join(', ');
        throw new UserFacingError(`Removed the lock from ${done}, but not from ${describeWhere(lock)}: ${error.message}`);
      }
      throw error;
    }
    removed.push(lock);
    await options.step(`Removed lock ${lock.info?.ID ?? '(unreadable)'} from ${describeWhere(lock)}.`);
  }
  if (extra.length) {
    await options.step(`Not removed (it appeared after the approval): ${extra.map((l) => `${describeLock(l, options.now())} in ${describeWhere(l)}`).join('; ')}.`);
  }
  return removed;
}
