import { describe, expect, it } from 'vitest';
import { DeleteItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { LockChangedError, removeDynamoLock } from '../../commands/tf/locks.ts';
import type { DynamoLock } from '../../commands/tf/locks.ts';
import { marshalLockInfo, newLockInfo, parseLockInfo } from '../../commands/tf/lockinfo.ts';
import { inspectUnlock, inspectUnlockPlan, performUnlock, unlockPlan, unlockPlanFor } from '../../commands/tf/unlock.ts';
import { testConfig } from '../harness/context.ts';
import { awsClients } from '../harness/env.ts';
import {
  allItems,
  BOTH_KEY,
  CAPTURED,
  DDB_KEY,
  fixtureItems,
  getItem,
  getObjectText,
  LOCKFILE_KEY,
  md5,
  fixture,
  putCapturedDynamoLock,
  putCapturedLockFile,
  putItems,
  putStates,
  tfWorld,
  versionIds,
} from './fixtures.ts';
import type { TfWorld } from './fixtures.ts';

const aws = awsClients();
const steps: string[] = [];
const opts = { now: () => new Date(), step: async (text: string) => void steps.push(text) };
const planOptions = (requestedAt: Date) => ({ requestedAt, warnYoungerThanMs: 15 * 60_000, warnYoungerThan: '15m', region: 'us-east-1' });

/** What Terraform does when a new run takes the lock: a new LockInfo with a new ID. */
async function terraformTakesLock(world: TfWorld, lockId: string): Promise<string> {
  const info = marshalLockInfo(newLockInfo({ operation: 'OperationTypeApply', who: 'ci@runner-7', path: lockId, version: '1.11.4', now: new Date() }));
  await world.dynamodb.send(
    new PutItemCommand({ TableName: world.table, Item: { LockID: { S: lockId }, Info: { S: info } }, ConditionExpression: 'attribute_not_exists(LockID)' }),
  );
  return info;
}

describe('unlock: removes exactly the approved lock', () => {
  it('deletes the lock item and nothing else: not the checksum item, not another state, not the state', async () => {
    const world = await tfWorld(aws);
    const state = world.state('default');
    const versions = await putStates(world, DDB_KEY, ['state-serial1.tfstate', 'state-serial2.tfstate', 'state-serial3.tfstate']);
    await putItems(world, fixtureItems('dynamodb-items-locked.json', world.bucket));
    // Another state's lock in the same table.
    await putItems(world, fixtureItems('dynamodb-items-both-locked.json', world.bucket));
    const before = await allItems(world);
    expect(before).toHaveLength(4);

    const expected = await inspectUnlock(world.clients, state);
    const removed = await performUnlock(world.clients, state, expected, opts);
    expect(removed.map((l) => l.info?.ID)).toEqual([CAPTURED.ddbLockId]);

    const after = await allItems(world);
    expect(after).toEqual(before.filter((i) => i.LockID!.S !== state.lockId));
    expect((await getItem(world, state.digestId))?.Digest?.S).toBe(md5(fixture('state-serial3.tfstate')));
    expect((await versionIds(world, DDB_KEY)).versions.sort()).toEqual([...versions].sort());
  });

  it('refuses when the lock was replaced between approval and execution, and leaves the new lock', async () => {
    const world = await tfWorld(aws);
    const state = world.state('default');
    await putCapturedDynamoLock(world);
    const approved = await inspectUnlock(world.clients, state);

    // The stale lock is released and a new Terraform run takes the lock before the job runs.
    await world.dynamodb.send(new DeleteItemCommand({ TableName: world.table, Key: { LockID: { S: state.lockId } } }));
    const fresh = await terraformTakesLock(world, state.lockId);

    const error = await performUnlock(world.clients, state, approved, opts).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockChangedError);
    expect((error as Error).message).toContain(`now holds lock ${parseLockInfo(fresh)!.ID} held by ci@runner-7`);
    expect((error as Error).message).toContain('Nothing was removed.');
    expect((await getItem(world, state.lockId))?.Info?.S).toBe(fresh);
  });

  it('the delete itself is conditional: a lock swapped after the re-read survives', async () => {
    const world = await tfWorld(aws);
    const state = world.state('default');
    await putCapturedDynamoLock(world);
    const [approved] = (await inspectUnlock(world.clients, state)) as DynamoLock[];
    await world.dynamodb.send(new DeleteItemCommand({ TableName: world.table, Key: { LockID: { S: state.lockId } } }));
    const fresh = await terraformTakesLock(world, state.lockId);
    await expect(removeDynamoLock(world.clients, approved!, new Date())).rejects.toBeInstanceOf(LockChangedError);
    expect((await getItem(world, state.lockId))?.Info?.S).toBe(fresh);
  });

  it('stops and says so when the lock vanished', async () => {
    const world = await tfWorld(aws);
    const state = world.state('default');
    await putCapturedDynamoLock(world);
    const approved = await inspectUnlock(world.clients, state);
    await world.dynamodb.send(new DeleteItemCommand({ TableName: world.table, Key: { LockID: { S: state.lockId } } }));
    await expect(performUnlock(world.clients, state, approved, opts)).rejects.toThrow(`The lock ${CAPTURED.ddbLockId} is gone`);
  });

  it('refuses to plan when no lock is held', async () => {
    const world = await tfWorld(aws);
    await putStates(world, DDB_KEY, ['state-serial1.tfstate']);
    await expect(inspectUnlock(world.clients, world.state('default'))).rejects.toThrow('No lock is held on Terraform state "default"');
  });

  it('removes the S3 lock file (use_lockfile) exactly, and refuses when it was replaced', async () => {
    const world = await tfWorld(aws);
    const state = world.state('lockfile');
    await putStates(world, LOCKFILE_KEY, ['state-serial1.tfstate'], { digest: false });
    await putCapturedLockFile(world);
    const approved = await inspectUnlock(world.clients, state);
    await performUnlock(world.clients, state, approved, opts);
    expect(await getObjectText(world, `${LOCKFILE_KEY}.tflock`)).toBeUndefined();
    expect((await getObjectText(world, LOCKFILE_KEY))?.body).toBe(fixture('state-serial1.tfstate').toString('utf8'));

    // Replaced: a new run wrote its own lock file.
    await putCapturedLockFile(world);
    const again = await inspectUnlock(world.clients, state);
    await world.s3.send(new DeleteObjectCommand({ Bucket: world.bucket, Key: `${LOCKFILE_KEY}.tflock` }));
    const newBody = marshalLockInfo(newLockInfo({ operation: 'OperationTypePlan', who: 'dev@laptop', path: state.lockId, now: new Date() }));
    await world.s3.send(new PutObjectCommand({ Bucket: world.bucket, Key: `${LOCKFILE_KEY}.tflock`, Body: newBody }));
    await expect(performUnlock(world.clients, state, again, opts)).rejects.toThrow('held by dev@laptop');
    expect((await getObjectText(world, `${LOCKFILE_KEY}.tflock`))?.body).toBe(newBody);
  });

  it('removes both locks of the migration setup and keeps the checksum item', async () => {
    const world = await tfWorld(aws);
    const state = world.state('both');
    await putItems(world, fixtureItems('dynamodb-items-both-locked.json', world.bucket));
    await putCapturedLockFile(world, 'both.tflock', BOTH_KEY);
    const approved = await inspectUnlock(world.clients, state);
    expect(approved).toHaveLength(2);
    await performUnlock(world.clients, state, approved, opts);
    expect(await getObjectText(world, `${BOTH_KEY}.tflock`)).toBeUndefined();
    expect(await getItem(world, state.lockId)).toBeUndefined();
    expect((await getItem(world, state.digestId))?.Digest?.S).toBe('8dcd34ededa261c8dce839b9d89ebda7');
  });
});

describe('unlock plan: shows exactly the lock', () => {
  it('names ID, who, operation, created, age, path and where; leaves the checksum item out', async () => {
    const world = await tfWorld(aws);
    const state = world.state('default');
    await putCapturedDynamoLock(world);
    const locks = await inspectUnlock(world.clients, state);
    const requestedAt = new Date('2026-11-28T23:23:04Z'); // 3 hours after Terraform took it
    const plan = unlockPlan(state, locks, planOptions(requestedAt));
    expect(plan.title).toBe(
      `Force-unlock Terraform state "default": remove lock ${CAPTURED.ddbLockId} held by root@vm for OperationTypeApply since 2026-11-28 20:23:04 UTC`,
    );
    expect(plan.steps[0]).toBe(
      `Lock ID ${CAPTURED.ddbLockId} · Who root@vm · Operation OperationTypeApply · Created 2h 59m before the request, 20:23 UTC · Path ${world.bucket}/autostack/terraform.tfstate · Terraform 1.11.4 · in DynamoDB table ${world.table} (LockID ${world.bucket}/autostack/terraform.tfstate)`,
    );
    expect(plan.steps).toContain(`Leave Terraform's checksum item LockID "${world.bucket}/autostack/terraform.tfstate-md5" untouched`);
    expect(plan.resources).toEqual([`arn:aws:dynamodb:us-east-1:*:table/${world.table} (item LockID "${world.bucket}/autostack/terraform.tfstate")`]);
    expect(plan.warnings).toBeUndefined();
    // The same lock and request give the same plan (the approval's hash stays valid) ...
    expect(unlockPlan(state, await inspectUnlock(world.clients, state), planOptions(requestedAt))).toEqual(plan);
    // ... and another lock gives another plan.
    await world.dynamodb.send(new DeleteItemCommand({ TableName: world.table, Key: { LockID: { S: state.lockId } } }));
    await terraformTakesLock(world, state.lockId);
    expect(unlockPlan(state, await inspectUnlock(world.clients, state), planOptions(requestedAt)).title).not.toBe(plan.title);
  });

  it('warns when the lock is younger than the configured age', async () => {
    const world = await tfWorld(aws);
    const state = world.state('default');
    await putCapturedDynamoLock(world);
    const locks = await inspectUnlock(world.clients, state);
    const plan = unlockPlan(state, locks, planOptions(new Date('2026-11-28T20:26:10Z')));
    expect(plan.warnings).toEqual([
      'This lock was only 3m 5s old when the unlock was requested (younger than 15m): a Terraform run may still be going. Ask root@vm before approving; removing the lock of a running apply can corrupt the state.',
    ]);
    const older = unlockPlan(state, locks, planOptions(new Date('2026-11-28T20:38:05Z')));
    expect(older.warnings).toBeUndefined();
    // A request asked again keeps its time; a lock taken after it is young by definition.
    const later = unlockPlan(state, locks, planOptions(new Date('2026-11-28T20:00:00Z')));
    expect(later.steps[0]).toContain('Created 20:23 UTC, taken after the unlock was requested');
    expect(later.warnings?.[0]).toMatch(/^This lock was taken after the unlock was requested \(younger than 15m\)/);
  });
});

describe('unlock plan: runbook S5 step 2, is the holder still writing?', () => {
  it('warns, naming the holder and their Slack user, when the state object was written after the lock was taken, at any lock age', async () => {
    const world = await tfWorld(aws);
    const state = world.state('default');
    await putCapturedDynamoLock(world); // taken 2026-11-28 20:23
    await putStates(world, DDB_KEY, ['state-serial1.tfstate']); // written now, after it
    const config = testConfig({ terraform: { holders: { 'root@vm': 'U0ROOT' } } });
    const requestedAt = new Date(Date.now() + 60_000);
    const plan = unlockPlanFor(state, await inspectUnlockPlan(world.clients, state), config, requestedAt);
    expect(plan.warnings).toEqual([
      expect.stringMatching(/^The state object was written \d\d:\d\d UTC \(version .+\), after the lock was taken \(2026-11-28 20:23 UTC\): its holder may still be writing\. Runbook S5 step 2: verify no Terraform process is running — ask root@vm \(<@U0ROOT>\) — before approving\.$/),
    ]);
    expect(plan.steps[0]).toContain('Who root@vm (<@U0ROOT>)');
    expect(plan.steps[0]).not.toMatch(/\.\d{9}Z/);
  });

  it('shows the evidence and no warning when the state was last written before the lock was taken', async () => {
    const world = await tfWorld(aws);
    const state = world.state('default');
    await putStates(world, DDB_KEY, ['state-serial1.tfstate']);
    await terraformTakesLock(world, state.lockId);
    const requestedAt = new Date(Date.now() + 44 * 60_000);
    const plan = unlockPlanFor(state, await inspectUnlockPlan(world.clients, state), testConfig(), requestedAt);
    expect(plan.warnings).toBeUndefined();
    expect(plan.steps).toContainEqual(expect.stringMatching(/^Runbook S5 step 2 evidence: the state object was last written \d\d:\d\d UTC \(version .+\), before the lock was taken: no write since$/));
    expect(plan.steps[0]).toMatch(/Created 44m(?: \d+s)? before the request, \d\d:\d\d UTC/);
  });
});
