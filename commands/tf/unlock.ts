/**
 * Force-unlocking a Terraform state safely (runbook: "Scenario 5: Terraform State Locked").
 *
 * The runbook's manual `aws dynamodb delete-item --key '{"LockID": ...}'` deletes whatever is there:
 * the lock of a run that started a second ago, or (with a wrong key) Terraform's checksum item.
 * Here the approval shows one exact lock, and the job deletes exactly that lock and nothing else:
 * a conditional delete on its content, so a lock that changed or vanished in between is left alone
 * and reported. The checksum item `<bucket>/<key>-md5` is never addressed.
 */
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Plan } from '../../src/core/types.ts';
import { ownValue } from '../../src/core/keys.ts';
import { utcTime } from '../shared/evidence.ts';
import { awsErrorName } from '../shared/aws-errors.ts';
import { aws } from './aws-errors.ts';
import { durationMs } from '../../src/core/durations.ts';
import type { Config } from '../../src/config.ts';
import { UserFacingError } from '../../src/core/types.ts';
import { TargetGoneError } from '../../src/core/gone.ts';
import { lockCreated } from './lockinfo.ts';
import { formatDuration } from '../../src/core/durations.ts';
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
    // The lock was released (or never held): a pending request for it closes itself.
    throw new TargetGoneError(`No lock is held on Terraform state "${state.name}" (${where}). Nothing to unlock.`);
  }
  return locks;
}

/** When and in which version the state object was last written (S3 HeadObject). */
export interface StateWritten {
  lastModified?: Date;
  versionId?: string;
}

/** The state object's last write, or undefined when it does not exist. */
export async function stateWritten(s3: S3Client, state: TfState): Promise<StateWritten | undefined> {
  try {
    const out = await s3.send(new HeadObjectCommand({ Bucket: state.bucket, Key: state.key }));
    return { ...(out.LastModified ? { lastModified: out.LastModified } : {}), ...(out.VersionId ? { versionId: out.VersionId } : {}) };
  } catch (error) {
    const name = awsErrorName(error);
    if (name === 'NotFound' || name === 'NoSuchKey') return undefined;
    return aws({ action: 's3:GetObject', resource: s3ObjectArn(state.bucket, state.key), bucket: state.bucket, key: state.key }, () => Promise.reject(error));
  }
}

/** What the unlock's plan rests on: the held locks, the region they are in, and the state object's last write. */
export interface UnlockInspection {
  locks: HeldLock[];
  region: string;
  written?: StateWritten;
}

/** Reads the locks (refusing when there is none) and the state object's last write. */
export async function inspectUnlockPlan(clients: TfClients, state: TfState): Promise<UnlockInspection> {
  const locks = await inspectUnlock(clients, state);
  const written = await stateWritten(clients.s3, state);
  return { locks, region: clients.region, ...(written ? { written } : {}) };
}

/** The plan from what was inspected and the configuration (pure: the same inputs give the same plan). */
export function unlockPlanFor(state: TfState, seen: UnlockInspection, config: Config, requestedAt: Date): Plan {
  return unlockPlan(state, seen.locks, {
    requestedAt,
    warnYoungerThanMs: durationMs(config.terraform.unlockWarnYoungerThan),
    warnYoungerThan: config.terraform.unlockWarnYoungerThan,
    region: seen.region,
    written: seen.written,
    holders: config.terraform.holders,
  });
}

/** "root@vm", with the Slack user it maps to (terraform.holders, or the bot's own `autostack-chatops:U…`). */
export function holderText(who: string | undefined, holders: Record<string, string>): string {
  if (!who) return '(unknown)';
  const own = /^autostack-chatops:([UW][A-Z0-9]+)$/.exec(who)?.[1];
  const user = own ?? ownValue(holders, who);
  return user ? `${who} (<@${user}>)` : who;
}

function lockLine(lock: HeldLock, requestedAt: Date, holders: Record<string, string>): string {
  const info = lock.info;
  if (!info) return `Lock: unreadable content ${JSON.stringify(lock.raw.slice(0, 200))} in ${describeWhere(lock)}`;
  const created = lockCreated(info);
  const ageMs = created ? requestedAt.getTime() - created.getTime() : undefined;
  const when = !created ? info.Created || '(unknown)' : ageMs! < 0 ? `${utcTime(created, requestedAt)}, taken after the unlock was requested` : `${formatDuration(ageMs!)} before the request, ${utcTime(created, requestedAt)}`;
  return [
    `Lock ID ${info.ID || '(none)'}`,
    `Who ${holderText(info.Who, holders)}`,
    `Operation ${info.Operation || '(unknown)'}`,
    `Created ${when}`,
    `Path ${info.Path || '(none)'}`,
    `Terraform ${info.Version || '(unknown)'}`,
    ...(info.Info ? [`Info ${info.Info}`] : []),
    `in ${describeWhere(lock)}`,
  ].join(' · ');
}

export function unlockPlan(
  state: TfState,
  locks: HeldLock[],
  options: { requestedAt: Date; warnYoungerThanMs: number; warnYoungerThan: string; region: string; written?: StateWritten; holders?: Record<string, string> },
): Plan {
  const first = locks[0]!;
  const holders = options.holders ?? {};
  const steps: string[] = [];
  const warnings: string[] = [];
  // Runbook S5 step 2, "verify no Terraform processes running": what the state object says.
  const created = locks.map((l) => lockCreated(l.info)).find((d) => d !== undefined);
  const written = options.written?.lastModified;
  const version = options.written?.versionId ? ` (version ${options.written.versionId})` : '';
  const ask = holderText(first.info?.Who, holders);
  let evidence: string | undefined;
  if (!written) {
    evidence = (`Runbook S5 step 2: the state object ${s3Uri(state.bucket, state.key)} does not exist; nothing shows whether a Terraform run is still going`);
  } else if (created && written > created) {
    warnings.push(
      `The state object was written ${utcTime(written, options.requestedAt)}${version}, after the lock was taken (${utcTime(created, options.requestedAt)}): its holder may still be writing. Runbook S5 step 2: verify no Terraform process is running — ask ${ask} — before approving.`,
    );
  } else {
    evidence = (`Runbook S5 step 2 evidence: the state object was last written ${utcTime(written, options.requestedAt)}${version}, ${created ? 'before the lock was taken: no write since' : 'and the lock has no readable Created time'}`);
  }
  for (const lock of locks) {
    steps.push(lockLine(lock, options.requestedAt, holders));
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
  if (evidence) steps.push(evidence);
  if (state.lockTable) steps.push(`Leave Terraform's checksum item LockID "${state.digestId}" untouched`);

  for (const lock of locks) {
    const created = lockCreated(lock.info);
    if (created && options.requestedAt.getTime() - created.getTime() < options.warnYoungerThanMs) {
      const ageMs = options.requestedAt.getTime() - created.getTime();
      const how = ageMs < 0 ? 'was taken after the unlock was requested' : `was only ${formatDuration(ageMs)} old when the unlock was requested`;
      warnings.push(
        `This lock ${how} (younger than ${options.warnYoungerThan}): a Terraform run may still be going. Ask ${holderText(lock.info?.Who || 'its owner', holders)} before approving; removing the lock of a running apply can corrupt the state.`,
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
