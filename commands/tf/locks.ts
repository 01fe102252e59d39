/**
 * Terraform state locks as Terraform's S3 backend keeps them: the DynamoDB lock item and the S3
 * lock file `<key>.tflock` (see states.ts). Reading addresses the known keys only (GetItem /
 * GetObject), never a table scan, so it works with the runbook's minimal policy and can never show
 * the checksum item `<bucket>/<key>-md5` as a lock. Removing is conditional on the exact lock that
 * was read; taking a lock is conditional on there being none, as Terraform does.
 */
import { ConditionalCheckFailedException, DeleteItemCommand, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import { UserFacingError } from '../../src/core/types.ts';
import { aws } from './aws-errors.ts';
import { awsErrorName } from '../shared/aws-errors.ts';
import { lockCreated, marshalLockInfo, parseLockInfo } from './lockinfo.ts';
import { clockTime } from '../shared/evidence.ts';
import type { LockInfo } from './lockinfo.ts';
import { s3ObjectArn, s3Uri, tableArn } from './states.ts';
import type { TfState } from './states.ts';

export interface TfClients {
  s3: S3Client;
  dynamodb: DynamoDBClient;
  /** Region of the DynamoDB client (for ARNs in messages). */
  region: string;
}

export interface DynamoLock {
  kind: 'dynamodb';
  table: string;
  lockId: string;
  /** The Info attribute exactly as stored ('' when the item has none). */
  raw: string;
  info?: LockInfo;
}

export interface S3LockFile {
  kind: 's3';
  bucket: string;
  key: string;
  /** The lock file's body exactly as stored. */
  raw: string;
  etag: string;
  info?: LockInfo;
}

export type HeldLock = DynamoLock | S3LockFile;

export function describeWhere(lock: HeldLock): string {
  return lock.kind === 'dynamodb' ? `DynamoDB table ${lock.table} (LockID ${lock.lockId})` : `S3 lock file ${s3Uri(lock.bucket, lock.key)}`;
}

/** One line naming the lock: ID, who, operation, since when. */
export function describeLock(lock: HeldLock, now?: Date): string {
  const info = lock.info;
  if (!info) return `an unreadable lock (its content is not Terraform lock JSON) in ${describeWhere(lock)}`;
  const created = lockCreated(info);
  const since = created && now ? clockTime(created, now) : created ? `${created.toISOString().slice(0, 19).replace('T', ' ')} UTC` : info.Created || '(unknown)';
  return `lock ${info.ID || '(no ID)'} held by ${info.Who || '(unknown)'} for ${info.Operation || '(unknown operation)'} since ${since}`;
}

function dynamoCall(clients: TfClients, action: string, table: string) {
  return { action, resource: tableArn(clients.region, table), table, region: clients.region };
}

export async function readDynamoLock(clients: TfClients, table: string, lockId: string): Promise<DynamoLock | undefined> {
  const out = await aws(dynamoCall(clients, 'dynamodb:GetItem', table), () =>
    clients.dynamodb.send(
      new GetItemCommand({ TableName: table, Key: { LockID: { S: lockId } }, ConsistentRead: true, ProjectionExpression: 'LockID, Info' }),
    ),
  );
  if (!out.Item) return undefined;
  const raw = out.Item.Info?.S ?? '';
  const info = parseLockInfo(raw);
  return { kind: 'dynamodb', table, lockId, raw, ...(info ? { info } : {}) };
}

export async function readS3LockFile(clients: TfClients, bucket: string, key: string): Promise<S3LockFile | undefined> {
  const call = { action: 's3:GetObject', resource: s3ObjectArn(bucket, key), bucket, key };
  let out;
  try {
    out = await clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  } catch (error) {
    if (awsErrorName(error) === 'NoSuchKey') return undefined;
    return aws(call, () => Promise.reject(error));
  }
  const raw = (await out.Body?.transformToString('utf8')) ?? '';
  const info = parseLockInfo(raw);
  return { kind: 's3', bucket, key, raw, etag: out.ETag ?? '', ...(info ? { info } : {}) };
}

/** Every lock currently held on the state (empty when free). */
export async function readLocks(clients: TfClients, state: TfState): Promise<HeldLock[]> {
  const locks: HeldLock[] = [];
  if (state.s3Lock) {
    const file = await readS3LockFile(clients, state.bucket, state.lockFileKey);
    if (file) locks.push(file);
  }
  if (state.lockTable) {
    const item = await readDynamoLock(clients, state.lockTable, state.lockId);
    if (item) locks.push(item);
  }
  return locks;
}

export function sameLock(a: HeldLock, b: HeldLock): boolean {
  if (a.kind !== b.kind || a.raw !== b.raw) return false;
  return a.kind === 's3' && b.kind === 's3' ? a.etag === b.etag : true;
}

/** The lock is no longer the one that was approved; nothing was removed. */
export class LockChangedError extends UserFacingError {
  constructor(
    readonly expected: HeldLock,
    readonly current: HeldLock | undefined,
    now: Date,
  ) {
    super(
      current
        ? `The lock changed since it was approved: ${describeWhere(expected)} now holds ${describeLock(current, now)} instead of lock ${expected.info?.ID ?? '(unreadable)'}. Nothing was removed.`
        : `The lock ${expected.info?.ID ?? '(unreadable)'} is gone: it was released (or removed) since it was approved. Nothing was removed.`,
      current ? 'A Terraform run may hold the new lock. Check `/autostack tf lock` and ask again if it is really stale.' : 'Check `/autostack tf lock`.',
    );
  }
}

/**
 * Deletes the DynamoDB lock item only if its Info is still exactly `expected.raw` (a conditional
 * DeleteItem): a lock a new run has just taken has a new ID and so a different Info, and fails the
 * condition. Addresses the lock's LockID only, never the checksum item.
 */
export async function removeDynamoLock(clients: TfClients, expected: DynamoLock, now: Date): Promise<void> {
  const condition = expected.raw === '' ? { ConditionExpression: 'attribute_exists(LockID) AND attribute_not_exists(Info)' } : {
    ConditionExpression: 'Info = :info',
    ExpressionAttributeValues: { ':info': { S: expected.raw } },
  };
  try {
    await clients.dynamodb.send(new DeleteItemCommand({ TableName: expected.table, Key: { LockID: { S: expected.lockId } }, ...condition }));
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException || awsErrorName(error) === 'ConditionalCheckFailedException') {
      throw new LockChangedError(expected, await readDynamoLock(clients, expected.table, expected.lockId), now);
    }
    return aws(dynamoCall(clients, 'dynamodb:DeleteItem', expected.table), () => Promise.reject(error));
  }
}

/**
 * Deletes the S3 lock file only if it is still the one read. S3 supports conditional deletes with
 * If-Match on the ETag (general purpose buckets since September 2025; moto too): a new lock file
 * has a new ID, so other content and another ETag, and the delete fails with 412. An S3-compatible
 * store that ignores If-Match would delete unconditionally, so the file is also re-read and
 * compared immediately before the delete; the window left there is one request long.
 * In a versioned bucket the delete adds a delete marker, exactly as Terraform's own unlock does.
 */
export async function removeS3LockFile(clients: TfClients, expected: S3LockFile, now: Date): Promise<void> {
  const current = await readS3LockFile(clients, expected.bucket, expected.key);
  if (!current || !sameLock(current, expected)) throw new LockChangedError(expected, current, now);
  try {
    await clients.s3.send(new DeleteObjectCommand({ Bucket: expected.bucket, Key: expected.key, IfMatch: expected.etag }));
  } catch (error) {
    const name = awsErrorName(error);
    if (name === 'PreconditionFailed' || name === 'NoSuchKey') {
      throw new LockChangedError(expected, await readS3LockFile(clients, expected.bucket, expected.key), now);
    }
    const call = { action: 's3:DeleteObject', resource: s3ObjectArn(expected.bucket, expected.key), bucket: expected.bucket, key: expected.key };
    return aws(call, () => Promise.reject(error));
  }
}

export async function removeLock(clients: TfClients, expected: HeldLock, now: Date): Promise<void> {
  return expected.kind === 'dynamodb' ? removeDynamoLock(clients, expected, now) : removeS3LockFile(clients, expected, now);
}

/** Someone else holds the state lock. */
export class LockHeldError extends UserFacingError {
  constructor(
    readonly state: TfState,
    readonly holder: HeldLock | undefined,
    now: Date,
  ) {
    super(
      `State "${state.name}" is locked by someone else: ${holder ? describeLock(holder, now) : 'a lock appeared and vanished while it was being taken'}. Nothing was changed.`,
      'Wait for that Terraform run to finish (`/autostack tf lock` shows the lock), or if it is stale remove it with `/autostack tf unlock`.',
    );
  }
}

/**
 * Takes the state lock the way Terraform does: the S3 lock file with If-None-Match: * (S3
 * conditional write) and the DynamoDB item with `attribute_not_exists(LockID)`, both carrying the
 * same LockInfo. If the second cannot be taken, the first is released again. Returns what it holds.
 */
export async function acquireLocks(clients: TfClients, state: TfState, info: LockInfo, now: Date): Promise<HeldLock[]> {
  const body = marshalLockInfo(info);
  const held: HeldLock[] = [];
  try {
    if (state.s3Lock) {
      const key = state.lockFileKey;
      let etag: string;
      try {
        const out = await clients.s3.send(
          new PutObjectCommand({ Bucket: state.bucket, Key: key, Body: body, ContentType: 'application/json', IfNoneMatch: '*' }),
        );
        etag = out.ETag ?? '';
      } catch (error) {
        if (awsErrorName(error) === 'PreconditionFailed' || awsErrorName(error) === 'ConditionalRequestConflict') {
          throw new LockHeldError(state, await readS3LockFile(clients, state.bucket, key), now);
        }
        const call = { action: 's3:PutObject', resource: s3ObjectArn(state.bucket, key), bucket: state.bucket, key };
        return await aws(call, () => Promise.reject(error));
      }
      held.push({ kind: 's3', bucket: state.bucket, key, raw: body, etag, info });
    }
    if (state.lockTable) {
      const table = state.lockTable;
      try {
        await clients.dynamodb.send(
          new PutItemCommand({
            TableName: table,
            Item: { LockID: { S: state.lockId }, Info: { S: body } },
            ConditionExpression: 'attribute_not_exists(LockID)',
          }),
        );
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException || awsErrorName(error) === 'ConditionalCheckFailedException') {
          throw new LockHeldError(state, await readDynamoLock(clients, table, state.lockId), now);
        }
        return await aws(dynamoCall(clients, 'dynamodb:PutItem', table), () => Promise.reject(error));
      }
      held.push({ kind: 'dynamodb', table, lockId: state.lockId, raw: body, info });
    }
    return held;
  } catch (error) {
    const left = await releaseLocks(clients, held, now);
    if (left.length && error instanceof Error) {
      throw new UserFacingError(`${error.message} Also, the bot's own partial lock could not be released: ${left.join('; ')}`);
    }
    throw error;
  }
}

/**
 * Releases the bot's own locks (conditionally, so it never removes someone else's). Never throws:
 * returns one line per lock it could not release, for the job to report exactly.
 */
export async function releaseLocks(clients: TfClients, held: HeldLock[], now: Date): Promise<string[]> {
  const problems: string[] = [];
  for (const lock of [...held].reverse()) {
    try {
      await removeLock(clients, lock, now);
    } catch (error) {
      if (error instanceof LockChangedError) {
        // Gone already (someone force-unlocked it): nothing left behind. Replaced: not ours to remove.
        if (error.current) problems.push(`the bot's lock ${lock.info?.ID ?? '?'} in ${describeWhere(lock)} had been replaced by ${describeLock(error.current, now)}, which was left alone`);
        continue;
      }
      problems.push(`the bot's lock ${lock.info?.ID ?? '?'} in ${describeWhere(lock)} is still held (${(error as Error).message})`);
    }
  }
  return problems;
}
