import { describe, expect, it } from 'vitest';
import { DeleteItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { UserFacingError } from '../../src/core/types.ts';
import { acquireLocks, LockHeldError, readLocks, releaseLocks } from '../../commands/tf/locks.ts';
import { marshalLockInfo, newLockInfo, parseLockInfo } from '../../commands/tf/lockinfo.ts';
import { awsClients, uniqueName } from '../harness/env.ts';
import {
  allItems,
  BOTH_KEY,
  CAPTURED,
  fixture,
  fixtureItems,
  getItem,
  getObjectText,
  LOCKFILE_KEY,
  putCapturedDynamoLock,
  putCapturedLockFile,
  putItems,
  putStates,
  tfWorld,
} from './fixtures.ts';

const aws = awsClients();

describe('Terraform lock as Terraform 1.11 writes it', () => {
  it('parses the captured DynamoDB lock item and the lock file, fields and order as Terraform marshals them', () => {
    const [lockItem, digestItem] = JSON.parse(fixture('dynamodb-items-locked.json').toString('utf8')) as Array<Record<string, { S: string }>>;
    expect(lockItem!.LockID!.S).toBe('autostack-tfstate/autostack/terraform.tfstate');
    expect(digestItem!.LockID!.S).toBe('autostack-tfstate/autostack/terraform.tfstate-md5');
    const info = parseLockInfo(lockItem!.Info!.S)!;
    expect(info).toEqual({
      ID: CAPTURED.ddbLockId,
      Operation: 'OperationTypeApply',
      Info: '',
      Who: 'root@vm',
      Version: '1.11.4',
      Created: '2026-11-28T20:23:04.125767468Z',
      Path: 'autostack-tfstate/autostack/terraform.tfstate',
    });
    // Marshalling gives back Terraform's exact bytes (Go's field order, compact JSON).
    expect(marshalLockInfo(info)).toBe(lockItem!.Info!.S);
    const file = fixture('lockfile.tflock').toString('utf8');
    expect(marshalLockInfo(parseLockInfo(file)!)).toBe(file);
  });

  it('a lock the bot takes has the shape of a Terraform lock (new UUID, state-push, UTC time, path)', () => {
    const info = newLockInfo({ operation: 'state-push', who: 'autostack-chatops:U012ABCDEF', path: 'b/k', now: new Date('2026-11-28T20:00:00Z') });
    expect(info.ID).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(Object.keys(JSON.parse(marshalLockInfo(info)) as object)).toEqual(['ID', 'Operation', 'Info', 'Who', 'Version', 'Created', 'Path']);
    expect(info.Created).toBe('2026-11-28T20:00:00.000Z');
  });
});

describe('reading locks (GetItem / GetObject on the known keys only)', () => {
  it('shows the DynamoDB lock as Terraform wrote it and never the checksum item', async () => {
    const world = await tfWorld(aws);
    await putStates(world, 'autostack/terraform.tfstate', ['state-serial1.tfstate']);
    await putItems(world, fixtureItems('dynamodb-items-locked.json', world.bucket));
    const locks = await readLocks(world.clients, world.state('default'));
    expect(locks).toHaveLength(1);
    const [lock] = locks;
    expect(lock!.kind).toBe('dynamodb');
    expect(lock!.info?.ID).toBe(CAPTURED.ddbLockId);
    expect(lock!.info?.Path).toBe(`${world.bucket}/autostack/terraform.tfstate`);
    expect(lock!.raw).toBe(fixtureItems('dynamodb-items-locked.json', world.bucket)[0]!.Info!.S);
  });

  it('reports no lock when only the checksum item is in the table', async () => {
    const world = await tfWorld(aws);
    await putStates(world, 'autostack/terraform.tfstate', ['state-serial1.tfstate', 'state-serial2.tfstate']);
    expect((await allItems(world)).map((i) => i.LockID!.S)).toEqual([`${world.bucket}/autostack/terraform.tfstate-md5`]);
    expect(await readLocks(world.clients, world.state('default'))).toEqual([]);
  });

  it('reads the S3 lock file (use_lockfile) byte-for-byte', async () => {
    const world = await tfWorld(aws);
    const body = await putCapturedLockFile(world);
    const locks = await readLocks(world.clients, world.state('lockfile'));
    expect(locks).toHaveLength(1);
    expect(locks[0]!.kind).toBe('s3');
    expect(locks[0]!.raw).toBe(body);
    expect(locks[0]!.info?.ID).toBe(CAPTURED.lockfileLockId);
    // A lockfile-only state never looks at DynamoDB, even if the table has an item for it.
    expect(world.state('lockfile').lockTable).toBeUndefined();
  });

  it('reads both locks of the migration setup, with the same lock ID', async () => {
    const world = await tfWorld(aws);
    await putItems(world, fixtureItems('dynamodb-items-both-locked.json', world.bucket));
    await putCapturedLockFile(world, 'both.tflock', BOTH_KEY);
    const locks = await readLocks(world.clients, world.state('both'));
    expect(locks.map((l) => [l.kind, l.info?.ID])).toEqual([
      ['s3', CAPTURED.bothLockId],
      ['dynamodb', CAPTURED.bothLockId],
    ]);
  });

  it('says clearly when the lock table or the bucket does not exist', async () => {
    const noTable = await tfWorld(aws, { createTable: false });
    await expect(readLocks(noTable.clients, noTable.state('default'))).rejects.toThrow(
      new UserFacingError(`The DynamoDB table "${noTable.table}" does not exist in us-east-1. Check terraform.lockTable in the configuration.`),
    );
    const noBucket = await tfWorld(aws, { createBucket: false });
    await expect(readLocks(noBucket.clients, noBucket.state('lockfile'))).rejects.toThrow(`The S3 bucket "${noBucket.bucket}" does not exist`);
  });
});

describe('taking and releasing the bot\'s own lock', () => {
  it('takes the DynamoDB lock only if absent and releases only its own', async () => {
    const world = await tfWorld(aws);
    const state = world.state('default');
    const now = new Date();
    const info = newLockInfo({ operation: 'state-push', who: 'autostack-chatops:U1', path: state.lockId, now });
    const held = await acquireLocks(world.clients, state, info, now);
    expect((await getItem(world, state.lockId))?.Info?.S).toBe(marshalLockInfo(info));

    // A second taker (Terraform) is refused, and told who holds it.
    const other = newLockInfo({ operation: 'OperationTypeApply', who: 'ci@runner', path: state.lockId, now });
    const refused = await acquireLocks(world.clients, state, other, now).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(LockHeldError);
    expect((refused as Error).message).toContain(`lock ${info.ID} held by autostack-chatops:U1`);

    expect(await releaseLocks(world.clients, held, now)).toEqual([]);
    expect(await getItem(world, state.lockId)).toBeUndefined();
  });

  it('takes the S3 lock file with If-None-Match and refuses when Terraform holds it', async () => {
    const world = await tfWorld(aws);
    const state = world.state('lockfile');
    const now = new Date();
    const terraformLock = await putCapturedLockFile(world);
    const info = newLockInfo({ operation: 'state-push', who: 'autostack-chatops:U1', path: state.lockId, now });
    await expect(acquireLocks(world.clients, state, info, now)).rejects.toThrow(`held by root@vm for OperationTypeApply`);
    expect((await getObjectText(world, `${LOCKFILE_KEY}.tflock`))?.body).toBe(terraformLock);

    // Once Terraform released it (delete marker in the versioned bucket), the bot can take it.
    await world.s3.send(new DeleteObjectCommand({ Bucket: world.bucket, Key: `${LOCKFILE_KEY}.tflock` }));
    const held = await acquireLocks(world.clients, state, info, now);
    expect((await getObjectText(world, `${LOCKFILE_KEY}.tflock`))?.body).toBe(marshalLockInfo(info));
    expect(await releaseLocks(world.clients, held, now)).toEqual([]);
    expect(await getObjectText(world, `${LOCKFILE_KEY}.tflock`)).toBeUndefined();
  });

  it('gives the lock file back when the DynamoDB lock of the migration setup is taken', async () => {
    const world = await tfWorld(aws);
    const state = world.state('both');
    const now = new Date();
    await putItems(world, fixtureItems('dynamodb-items-both-locked.json', world.bucket).filter((i) => i.Info));
    const info = newLockInfo({ operation: 'state-push', who: 'autostack-chatops:U1', path: state.lockId, now });
    await expect(acquireLocks(world.clients, state, info, now)).rejects.toThrow(`lock ${CAPTURED.bothLockId} held by root@vm`);
    expect(await getObjectText(world, `${BOTH_KEY}.tflock`)).toBeUndefined();
  });

  it('does not release a lock that replaced its own, and says so', async () => {
    const world = await tfWorld(aws);
    const state = world.state('default');
    const now = new Date();
    const info = newLockInfo({ operation: 'state-push', who: 'autostack-chatops:U1', path: state.lockId, now });
    const held = await acquireLocks(world.clients, state, info, now);
    await world.dynamodb.send(new DeleteItemCommand({ TableName: world.table, Key: { LockID: { S: state.lockId } } }));
    const theirs = await putCapturedDynamoLock(world);
    const problems = await releaseLocks(world.clients, held, now);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(`had been replaced by lock ${CAPTURED.ddbLockId}`);
    expect((await getItem(world, state.lockId))?.Info?.S).toBe(theirs);
  });

  it('S3 refuses a conditional delete with a stale ETag (the guarantee the lock file removal relies on)', async () => {
    const world = await tfWorld(aws);
    const key = `${uniqueName('k')}.tflock`;
    const first = await world.s3.send(new PutObjectCommand({ Bucket: world.bucket, Key: key, Body: '{"ID":"a"}' }));
    await world.s3.send(new PutObjectCommand({ Bucket: world.bucket, Key: key, Body: '{"ID":"b"}' }));
    await expect(world.s3.send(new DeleteObjectCommand({ Bucket: world.bucket, Key: key, IfMatch: first.ETag }))).rejects.toMatchObject({ name: 'PreconditionFailed' });
    expect((await getObjectText(world, key))?.body).toBe('{"ID":"b"}');
  });

  it('a lock item without Info is shown as unreadable, not as free', async () => {
    const world = await tfWorld(aws);
    const state = world.state('default');
    await world.dynamodb.send(new PutItemCommand({ TableName: world.table, Item: { LockID: { S: state.lockId } } }));
    const [lock] = await readLocks(world.clients, state);
    expect(lock).toMatchObject({ kind: 'dynamodb', raw: '' });
    expect(lock!.info).toBeUndefined();
  });
});
