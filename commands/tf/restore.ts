/**
 * Restoring an earlier version of a Terraform state (runbook: "Terraform State Backups").
 *
 * How the chosen version becomes current: the way `terraform state push` restores a snapshot.
 * Its content is written as a new version of the same key with the same lineage and a serial
 * above every serial in the object's history (every version, and the current one), so no later
 * `terraform apply` can write a serial some other snapshot in the bucket already has, and
 * Terraform never sees the serial go back. Only the top-level serial changes: the rest of the
 * bytes are the chosen version's, and the result is parsed back and compared with it before it
 * is written. Every version is kept: the replaced one stays in the history and the undo is the
 * same command with its version ID.
 *
 * Terraform keeps the MD5 of the state it last wrote in the checksum item `<bucket>/<key>-md5`
 * (when a DynamoDB table is used) and refuses a state that does not match it, so the restore sets
 * Digest to the written content's MD5, as Terraform's own Put does after each upload.
 */
import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { isDeepStrictEqual } from 'node:util';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { ServerSideEncryption } from '@aws-sdk/client-s3';
import type { Plan } from '../../src/core/types.ts';
import { UserFacingError } from '../../src/core/types.ts';
import { aws } from './aws-errors.ts';
import { botWho, newLockInfo, STATE_PUSH_OPERATION } from './lockinfo.ts';
import { acquireLocks, LockHeldError, readLocks, releaseLocks } from './locks.ts';
import type { HeldLock, TfClients } from './locks.ts';
import { s3ObjectArn, s3Uri, tableArn } from './states.ts';
import type { TfState } from './states.ts';
import { bucketVersioning, currentVersionId, listStateVersions, md5Hex, readCurrentState, readStateObject } from './versions.ts';
import type { StateObject, StateSummary } from './versions.ts';

export interface RestoreParams {
  versionId: string;
  state: string;
  allowOtherLineage: boolean;
}

/** What was found before restoring: the current version and the chosen one. */
export interface RestoreSnapshot {
  /** Undefined when the state object is currently deleted (a delete marker) or absent. */
  current?: { versionId: string; md5: string; size: number; summary: StateSummary };
  target: { versionId: string; md5: string; size: number; summary: StateSummary; serverSideEncryption?: string; sseKmsKeyId?: string };
  /** What is written: the target's content with `serial`, above `highestSerial` (every version's, the current one's). */
  restored: { serial: number; highestSerial: number; md5: string; size: number };
  lineageChanged: boolean;
}

/** Every listed version of the object, however many. */
const WHOLE_HISTORY = Number.POSITIVE_INFINITY;

/**
 * The chosen version's bytes with only the top-level serial replaced. Parsed back and compared
 * with the original (serial aside) so nothing else can have changed; throws when it cannot be.
 */
export function withSerial(body: Buffer, serial: number): Buffer {
  const text = body.toString('utf8');
  const original = JSON.parse(text) as Record<string, unknown>;
  // Terraform writes version, terraform_version, serial and lineage first.
  const replaced = text.replace(/("serial"\s*:\s*)\d+/, (_match, key: string) => `${key}${serial}`);
  let parsed: Record<string, unknown> | undefined;
  try {
    parsed = JSON.parse(replaced) as Record<string, unknown>;
  } catch {
    parsed = undefined;
  }
  if (!parsed || parsed.serial !== serial || !isDeepStrictEqual({ ...parsed, serial: original.serial }, original)) {
    throw new UserFacingError('The chosen version does not start with its top-level "serial" as Terraform writes it, so its serial cannot be raised safely. Nothing was changed.');
  }
  return Buffer.from(replaced, 'utf8');
}

function brief(o: StateObject) {
  return { versionId: o.versionId, md5: o.md5, size: o.body.length, summary: o.summary };
}

export function describeSummary(summary: StateSummary | undefined): string {
  if (!summary) return 'no state';
  return `serial ${summary.serial ?? '?'}, lineage ${summary.lineage ?? '?'}`;
}

export function restoreCommand(state: TfState, versionId: string, otherLineage: boolean): string {
  return `/autostack tf restore ${versionId} ${state.name}${otherLineage ? ' --allow-other-lineage' : ''}`;
}

/**
 * Reads what a restore would do and refuses what it must not do: versioning not enabled, a
 * missing or deleted version, the version that is already current, a lineage change without the
 * extra confirmation, and a state someone holds the lock on.
 */
export async function inspectRestore(clients: TfClients, state: TfState, params: RestoreParams, now: Date): Promise<RestoreSnapshot> {
  const versioning = await bucketVersioning(clients.s3, state.bucket);
  if (versioning !== 'Enabled') {
    throw new UserFacingError(
      `Versioning is ${versioning === 'Suspended' ? 'suspended' : 'not enabled'} on bucket ${state.bucket}: a restore is impossible (making an old version current needs versioning, or the current state would be overwritten for good).`,
      'Enable versioning on the state bucket (runbook: "S3 versioning is enabled automatically"); earlier states written while it was off cannot be recovered from S3.',
    );
  }
  const target = await readStateObject(clients.s3, state, params.versionId);
  if (target.summary.serial === undefined || target.summary.lineage === undefined) {
    throw new UserFacingError(`Version ${params.versionId} of ${s3Uri(state.bucket, state.key)} is not a Terraform state (no serial and lineage in it). Nothing was changed.`);
  }
  const current = await readCurrentState(clients.s3, state);
  if (current && current.versionId === target.versionId) {
    throw new UserFacingError(`Version ${params.versionId} is already the current state of "${state.name}". Nothing to restore.`);
  }
  const lineageChanged = current !== undefined && current.summary.lineage !== target.summary.lineage;
  if (lineageChanged && !params.allowOtherLineage) {
    throw new UserFacingError(
      `Version ${params.versionId} belongs to another state history: its lineage is ${target.summary.lineage}, the current state's is ${current.summary.lineage}. Restoring it replaces the state with an unrelated one.`,
      `If that is really intended, confirm it explicitly: \`${restoreCommand(state, params.versionId, true)}\``,
    );
  }
  const locks = await readLocks(clients, state);
  if (locks[0]) throw new LockHeldError(state, locks[0], now);
  const history = await listStateVersions(clients.s3, state, WHOLE_HISTORY);
  const highestSerial = Math.max(current?.summary.serial ?? 0, ...history.map((v) => v.summary?.serial ?? 0));
  const content = withSerial(target.body, highestSerial + 1);
  return {
    ...(current ? { current: brief(current) } : {}),
    restored: { serial: highestSerial + 1, highestSerial, md5: md5Hex(content), size: content.length },
    target: {
      ...brief(target),
      ...(target.serverSideEncryption ? { serverSideEncryption: target.serverSideEncryption } : {}),
      ...(target.sseKmsKeyId ? { sseKmsKeyId: target.sseKmsKeyId } : {}),
    },
    lineageChanged,
  };
}

export function restorePlan(state: TfState, snapshot: RestoreSnapshot, region: string): Plan {
  const { current, target, restored } = snapshot;
  const from = current ? `${current.versionId} (${describeSummary(current.summary)})` : 'none (the state object is deleted)';
  const steps = [
    `Take the state lock like \`terraform state push\`: ${[
      state.s3Lock ? `put ${s3Uri(state.bucket, state.lockFileKey)} only if absent (If-None-Match: *)` : '',
      state.lockTable ? `put LockID "${state.lockId}" in DynamoDB table ${state.lockTable} only if absent` : '',
    ]
      .filter(Boolean)
      .join(', then ')} (Who "autostack-chatops:" and the requester's Slack ID, Operation ${STATE_PUSH_OPERATION})`,
    `Check that the current version is still ${current?.versionId ?? 'none'} and record it for the undo`,
    `Write version ${target.versionId}'s content to ${s3Uri(state.bucket, state.key)} as a new version (every version is kept), like \`terraform state push\`: lineage ${target.summary.lineage} kept, serial ${target.summary.serial} → ${restored.serial} (above ${restored.highestSerial}, the highest serial in the object's history), nothing else changed (MD5 ${restored.md5})`,
    ...(state.lockTable ? [`Set Terraform's checksum item LockID "${state.digestId}" to Digest ${restored.md5} (MD5 of the written state)`] : []),
    'Read the new current version back and verify its MD5 and serial' + (state.lockTable ? ', and the checksum item' : ''),
    'Release the lock (also if a step fails)',
  ];
  const warnings: string[] = [];
  if (snapshot.lineageChanged && current) {
    warnings.push(
      `Lineage changes: ${current.summary.lineage} → ${target.summary.lineage}. The restored state belongs to another state history; Terraform will treat it as a different state (--allow-other-lineage was given).`,
    );
  }
  if (current && (target.summary.serial ?? 0) < (current.summary.serial ?? 0)) {
    warnings.push(
      `Version ${target.versionId} (serial ${target.summary.serial}) is older than the current state (serial ${current.summary.serial}): changes Terraform recorded after it are no longer in the state (the resources still exist; the next plan shows them).`,
    );
  }
  return {
    title: `Restore Terraform state "${state.name}": current ${from} → version ${target.versionId} (${describeSummary(target.summary)})`,
    steps,
    resources: [
      s3ObjectArn(state.bucket, state.key),
      ...(state.s3Lock ? [s3ObjectArn(state.bucket, state.lockFileKey)] : []),
      ...(state.lockTable ? [`${tableArn(region, state.lockTable)} (items "${state.lockId}" and "${state.digestId}")`] : []),
    ],
    ...(warnings.length ? { warnings } : {}),
  };
}

export interface RestoreResult {
  newVersionId: string;
  previousVersionId?: string;
  digestUpdated: boolean;
  lockId: string;
}

/**
 * Performs the restore under the state lock; the lock is released in every case. On failure the
 * error says exactly what state was left.
 */
export async function performRestore(
  clients: TfClients,
  state: TfState,
  snapshot: RestoreSnapshot,
  options: { requestedBy: string; now: () => Date; step: (text: string) => Promise<void> },
): Promise<RestoreResult> {
  const { target } = snapshot;
  const uri = s3Uri(state.bucket, state.key);
  const info = newLockInfo({
    operation: STATE_PUSH_OPERATION,
    who: botWho(options.requestedBy),
    path: state.lockId,
    info: `autostack tf restore of version ${target.versionId}`,
    now: options.now(),
  });
  const held: HeldLock[] = await acquireLocks(clients, state, info, options.now());
  await options.step(`Took the state lock ${info.ID} (${held.map((l) => (l.kind === 'dynamodb' ? `DynamoDB ${l.table}` : `S3 ${l.key}`)).join(' and ')}).`);

  let outcome: RestoreResult | undefined;
  let failure: unknown;
  let copied: string | undefined;
  try {
    const before = await currentVersionId(clients.s3, state);
    if (before !== snapshot.current?.versionId) {
      throw new UserFacingError(
        `The state changed since this restore was approved: its current version is now ${before ?? 'none (deleted)'}, not ${snapshot.current?.versionId ?? 'none'}. Nothing was restored.`,
        'Look at `/autostack tf versions` and ask again.',
      );
    }
    await options.step(`Current version before the restore: ${before ?? 'none (deleted)'} (${describeSummary(snapshot.current?.summary)}).`);

    // The content approved: the chosen version with the planned serial, checked by its MD5.
    const source = await readStateObject(clients.s3, state, target.versionId);
    const content = withSerial(source.body, snapshot.restored.serial);
    if (md5Hex(content) !== snapshot.restored.md5) {
      throw new UserFacingError(`Version ${target.versionId} no longer reads as it did when this restore was approved (MD5 of the content to write ${md5Hex(content)}, approved ${snapshot.restored.md5}). Nothing was restored.`);
    }
    const put = await aws({ action: 's3:PutObject', resource: s3ObjectArn(state.bucket, state.key), bucket: state.bucket, key: state.key }, () =>
      clients.s3.send(
        new PutObjectCommand({
          Bucket: state.bucket,
          Key: state.key,
          Body: content,
          ContentType: 'application/json',
          ContentMD5: Buffer.from(snapshot.restored.md5, 'hex').toString('base64'),
          ...(target.serverSideEncryption ? { ServerSideEncryption: target.serverSideEncryption as ServerSideEncryption } : {}),
          ...(target.sseKmsKeyId ? { SSEKMSKeyId: target.sseKmsKeyId } : {}),
        }),
      ),
    );
    copied = put.VersionId ?? 'null';
    await options.step(`Wrote version ${target.versionId}'s content with serial ${snapshot.restored.serial} (lineage ${target.summary.lineage}) to ${uri}: new current version ${copied}.`);

    let digestUpdated = false;
    if (state.lockTable) {
      const table = state.lockTable;
      try {
        await aws({ action: 'dynamodb:PutItem', resource: tableArn(clients.region, table), table, region: clients.region }, () =>
          clients.dynamodb.send(new PutItemCommand({ TableName: table, Item: { LockID: { S: state.digestId }, Digest: { S: snapshot.restored.md5 } } })),
        );
      } catch (error) {
        throw new UserFacingError(
          `The state object now holds version ${target.versionId}'s content (new current version ${copied}), but Terraform's checksum item "${state.digestId}" could not be set to ${snapshot.restored.md5}: ${(error as Error).message} Terraform will refuse this state with a checksum mismatch until that Digest is set.`,
          `Fix the permission and run the restore again, or undo with \`${snapshot.current ? restoreCommand(state, snapshot.current.versionId, snapshot.lineageChanged) : 'aws s3api delete-object --version-id ' + copied}\`.`,
        );
      }
      digestUpdated = true;
      await options.step(`Set the checksum item "${state.digestId}" to ${snapshot.restored.md5}.`);
    }

    const after = await readStateObject(clients.s3, state);
    if (after.versionId !== copied || after.md5 !== snapshot.restored.md5 || after.summary.serial !== snapshot.restored.serial) {
      throw new UserFacingError(
        `Verification failed: the current version of ${uri} is ${after.versionId} with MD5 ${after.md5} and serial ${after.summary.serial ?? '?'}, expected ${copied} with ${snapshot.restored.md5} and serial ${snapshot.restored.serial}. Something wrote the state during the restore.`,
      );
    }
    if (state.lockTable) {
      const table = state.lockTable;
      const digest = await aws({ action: 'dynamodb:GetItem', resource: tableArn(clients.region, table), table, region: clients.region }, () =>
        clients.dynamodb.send(new GetItemCommand({ TableName: table, Key: { LockID: { S: state.digestId } }, ConsistentRead: true })),
      );
      if (digest.Item?.Digest?.S !== snapshot.restored.md5) {
        throw new UserFacingError(`Verification failed: the checksum item "${state.digestId}" holds ${digest.Item?.Digest?.S ?? 'nothing'}, expected ${snapshot.restored.md5}.`);
      }
    }
    await options.step(`Verified: the current version ${copied} has MD5 ${snapshot.restored.md5} and serial ${snapshot.restored.serial}${state.lockTable ? ', and the checksum item matches' : ''}.`);
    outcome = {
      newVersionId: copied,
      ...(snapshot.current ? { previousVersionId: snapshot.current.versionId } : {}),
      digestUpdated,
      lockId: info.ID,
    };
  } catch (error) {
    failure = error;
  }

  const left = await releaseLocks(clients, held, options.now());
  if (left.length === 0) await options.step(`Released the state lock ${info.ID}.`);
  const lockNote = left.length ? ` The state lock could not be released: ${left.join('; ')}. Remove it with \`/autostack tf unlock ${state.name}\`.` : '';

  if (failure !== undefined) {
    if (failure instanceof UserFacingError) throw new UserFacingError(`${failure.message}${lockNote}`, failure.hint);
    const stateLeft = copied
      ? `The state object already holds version ${target.versionId}'s content (new current version ${copied}).`
      : 'The state object was not changed.';
    throw new UserFacingError(`The restore failed: ${(failure as Error).message} ${stateLeft}${lockNote}`);
  }
  if (left.length) {
    throw new UserFacingError(
      `The restore itself succeeded (new current version ${outcome!.newVersionId}), but the state lock could not be released: ${left.join('; ')}.`,
      `Remove it with \`/autostack tf unlock ${state.name}\`.`,
    );
  }
  return outcome!;
}
