import { describe, expect, it } from 'vitest';
import { DeleteItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { UsageError, UserFacingError } from '../../src/core/types.ts';
import type { Args, JobRun, Verb } from '../../src/core/types.ts';
import { replyToText } from '../../src/render/text.ts';
import { tfModule } from '../../commands/tf/index.ts';
import { marshalLockInfo, newLockInfo } from '../../commands/tf/lockinfo.ts';
import { tfRestoreJob } from '../../jobs/tf-restore.ts';
import { withSerial } from '../../commands/tf/restore.ts';
import { tfUnlockJob } from '../../jobs/tf-unlock.ts';
import { awsClients } from '../harness/env.ts';
import { planOf, runJob, testContext, testJobRun } from '../harness/context.ts';
import { unlockOperation } from '../../commands/tf/operations.ts';
import type { TestContext } from '../harness/context.ts';
import {
  allItems,
  BOTH_KEY,
  CAPTURED,
  DDB_KEY,
  fixture,
  fixtureItems,
  getItem,
  getObjectText,
  md5,
  putCapturedDynamoLock,
  putCapturedLockFile,
  putItems,
  putStates,
  tfWorld,
  versionIds,
} from './fixtures.ts';
import type { TfWorld } from './fixtures.ts';

const aws = awsClients();

function verb<P>(name: string): Verb<P> {
  const found = tfModule.verbs.find((v) => v.path.join(' ') === name);
  if (!found) throw new Error(`no verb ${name}`);
  return found as Verb<P>;
}

const args = (positional: string[], flags: Args['flags'] = {}): Args => ({ positional, flags });

function contextFor(world: TfWorld, options: { userId?: string; now?: Date } = {}): TestContext {
  return testContext({
    config: { terraform: world.terraform },
    role: 'operator',
    userId: options.userId ?? 'U0OPERATOR',
    ...(options.now ? { clock: { now: () => options.now! } } : {}),
  });
}

function parse<P>(name: string, ctx: TestContext, a: Args): P {
  return verb<P>(name).parse(a, { config: ctx.config, actor: ctx.actor });
}

/** A JobRun as the job system builds it, recording its steps. */
function jobRun<D>(data: D, ctx: TestContext, steps: string[]): JobRun<D> {
  return testJobRun(data, ctx, { step: async (text) => void steps.push(typeof text === 'string' ? text : text.mrkdwn) });
}

describe('tf lock (viewer)', () => {
  it("shows every state's lock as Terraform wrote it, and \"no lock held\" when free", async () => {
    const world = await tfWorld(aws);
    await putStates(world, DDB_KEY, ['state-serial1.tfstate']);
    await putItems(world, fixtureItems('dynamodb-items-locked.json', world.bucket));
    await putItems(world, fixtureItems('dynamodb-items-both-locked.json', world.bucket));
    await putCapturedLockFile(world, 'both.tflock', BOTH_KEY);
    const ctx = contextFor(world, { now: new Date('2026-11-28T21:00:00Z') });
    const lock = verb<{ state?: string }>('tf lock');
    expect(lock.minRole).toBe('viewer');
    expect(lock.guard).toBe('none');

    const result = await lock.execute!(parse('tf lock', ctx, args([])), ctx);
    expect(result.summary).toBe('2 of 3 Terraform states locked.');
    const text = replyToText(result);
    for (const expected of [
      `default: s3://${world.bucket}/${DDB_KEY}`,
      'locked by *root@vm*',
      `Lock ID: ${CAPTURED.ddbLockId}`,
      'Operation: OperationTypeApply',
      'Since: 2026-11-28T20:23:04.125767468Z',
      'Age: 36m 55s',
      `Path: ${world.bucket}/${DDB_KEY}`,
      'Terraform: 1.11.4',
      `Held in DynamoDB table ${world.table} (LockID ${world.bucket}/${DDB_KEY}).`,
      `lockfile: s3://${world.bucket}/autostack/lockfile.tfstate`,
      'no lock held',
      `Checked S3 lock file s3://${world.bucket}/autostack/lockfile.tfstate.tflock.`,
      `Lock ID: ${CAPTURED.bothLockId}`,
      `Held in S3 lock file s3://${world.bucket}/${BOTH_KEY}.tflock and DynamoDB table ${world.table} (LockID ${world.bucket}/${BOTH_KEY}).`,
    ]) {
      expect(text).toContain(expected);
    }
    // The migration setup's two copies of one lock are shown once.
    expect(text.split(`Lock ID: ${CAPTURED.bothLockId}`)).toHaveLength(2);
    // The checksum items are in the same table and never shown as locks.
    expect(text).not.toContain('-md5');
  });

  it('one state, one clear error: a missing table', async () => {
    const world = await tfWorld(aws, { createTable: false });
    const ctx = contextFor(world);
    await expect(verb('tf lock').execute!(parse('tf lock', ctx, args(['default'])), ctx)).rejects.toThrow(
      `The DynamoDB table "${world.table}" does not exist in us-east-1.`,
    );
  });

  it('rejects an unknown state name in parse', async () => {
    const world = await tfWorld(aws, { createTable: false, createBucket: false });
    const ctx = contextFor(world);
    expect(() => parse('tf lock', ctx, args(['prod']))).toThrow(new UsageError('unknown Terraform state "prod" (configured: default, lockfile, both)'));
  });
});

describe('tf unlock (operator, approval)', () => {
  it('plans exactly the lock, starts the job with its parameters, and the job removes that lock only', async () => {
    const world = await tfWorld(aws);
    await putStates(world, DDB_KEY, ['state-serial1.tfstate', 'state-serial2.tfstate']);
    const info = await putCapturedDynamoLock(world);
    const ctx = contextFor(world);
    const unlock = verb<{ state: string; requestedAt: string }>('tf unlock');
    expect([unlock.minRole, unlock.guard]).toEqual(['operator', 'approval']);

    const params = { ...parse<{ state: string; requestedAt: string }>('tf unlock', ctx, args([])), requestedAt: '2026-11-28T20:30:00.000Z' };
    expect(params.state).toBe('default');
    const plan = await planOf(unlock, params, ctx);
    expect(plan.title).toContain(`remove lock ${CAPTURED.ddbLockId} held by root@vm for OperationTypeApply since 2026-11-28 20:23:04 UTC`);
    expect(plan.warnings).toEqual([expect.stringMatching(/^The state object was written .*, after the lock was taken/), expect.stringContaining('only 6m 55s old when the unlock was requested (younger than 15m)')]);

    // The approved job inspects and plans again (the same plan), then removes the lock.
    const result = (await runJob(tfUnlockJob, params, ctx)).reply;
    expect(result.summary).toMatch(new RegExp(`^Removed the lock ${CAPTURED.ddbLockId} from Terraform state "default"`));
    expect(replyToText(result)).toContain(`Terraform's checksum item "${world.bucket}/${DDB_KEY}-md5" was not touched.`);
    expect(await getItem(world, `${world.bucket}/${DDB_KEY}`)).toBeUndefined();
    expect((await getItem(world, `${world.bucket}/${DDB_KEY}-md5`))?.Digest?.S).toBe(md5(fixture('state-serial2.tfstate')));
    expect(ctx.audited).toContainEqual(expect.objectContaining({ action: 'tf unlock', result: 'removed', args: expect.objectContaining({ lockId: CAPTURED.ddbLockId }) }));
    expect(info).toContain(CAPTURED.ddbLockId);
  });

  it('the job refuses when the lock was replaced after it was inspected at the start, and leaves the new lock', async () => {
    const world = await tfWorld(aws);
    await putCapturedDynamoLock(world);
    const ctx = contextFor(world);
    const params = parse<{ state: string; requestedAt: string }>('tf unlock', ctx, args(['default']));
    const run = jobRun(params, ctx, []);
    const seen = await unlockOperation.inspect(params, { ...ctx, stage: 'start' });

    const lockId = `${world.bucket}/${DDB_KEY}`;
    await world.dynamodb.send(new DeleteItemCommand({ TableName: world.table, Key: { LockID: { S: lockId } } }));
    const fresh = marshalLockInfo(newLockInfo({ operation: 'OperationTypeApply', who: 'ci@runner-9', path: lockId, version: '1.11.4', now: new Date() }));
    await world.dynamodb.send(new PutItemCommand({ TableName: world.table, Item: { LockID: { S: lockId }, Info: { S: fresh } } }));

    await expect(unlockOperation.run(params, seen, run)).rejects.toThrow(/The lock changed since it was approved: .* now holds lock .* held by ci@runner-9/);
    expect((await getItem(world, lockId))?.Info?.S).toBe(fresh);
  });

  it('a lock replaced between the approval and the start changes the plan, so the job does nothing', async () => {
    const world = await tfWorld(aws);
    await putCapturedDynamoLock(world);
    const ctx = contextFor(world);
    const params = parse<{ state: string; requestedAt: string }>('tf unlock', ctx, args([]));
    const lockId = `${world.bucket}/${DDB_KEY}`;
    const fresh = marshalLockInfo(newLockInfo({ operation: 'OperationTypeApply', who: 'x@y', path: lockId, now: new Date() }));
    const replace = async () => {
      await world.dynamodb.send(new DeleteItemCommand({ TableName: world.table, Key: { LockID: { S: lockId } } }));
      await world.dynamodb.send(new PutItemCommand({ TableName: world.table, Item: { LockID: { S: lockId }, Info: { S: fresh } } }));
    };
    await expect(runJob(tfUnlockJob, params, ctx, { beforeRun: replace })).rejects.toThrow(/plan changed/);
    expect((await getItem(world, lockId))?.Info?.S).toBe(fresh);
  });

  it('refuses to ask for approval when no lock is held', async () => {
    const world = await tfWorld(aws);
    const ctx = contextFor(world);
    await expect(planOf(verb<{ state: string; requestedAt: string }>('tf unlock'), parse('tf unlock', ctx, args([])), ctx)).rejects.toThrow(
      new UserFacingError(`No lock is held on Terraform state "default" (DynamoDB table ${world.table} (LockID ${world.bucket}/${DDB_KEY})). Nothing to unlock.`),
    );
  });
});

describe('tf versions (viewer)', () => {
  it('lists versions newest first and parses [state] [n]', async () => {
    const world = await tfWorld(aws);
    const ids = await putStates(world, DDB_KEY, ['state-serial1.tfstate', 'state-serial2.tfstate', 'state-serial3.tfstate']);
    const ctx = contextFor(world);
    expect(parse('tf versions', ctx, args([]))).toEqual({ state: 'default', count: 10 });
    expect(parse('tf versions', ctx, args(['2']))).toEqual({ state: 'default', count: 2 });
    expect(parse('tf versions', ctx, args(['lockfile', '5']))).toEqual({ state: 'lockfile', count: 5 });
    expect(() => parse('tf versions', ctx, args(['default', '0']))).toThrow(UsageError);
    expect(() => parse('tf versions', ctx, args(['default', 'many']))).toThrow(UsageError);

    const result = await verb('tf versions').execute!({ state: 'default', count: 2 }, ctx);
    const text = replyToText(result);
    expect(result.summary).toBe(`2 newest versions of s3://${world.bucket}/${DDB_KEY}`);
    expect(text).toMatch(new RegExp(`current\\s+${ids[2]}\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\s+862\\s+3\\s+${CAPTURED.lineage}\\s+1\\.11\\.4`));
    expect(text).toContain(ids[1]);
    expect(text).not.toContain(ids[0]);
  });

  it('says so when the state object does not exist, and warns when versioning is off', async () => {
    const world = await tfWorld(aws, { versioning: 'none' });
    const ctx = contextFor(world);
    await expect(verb('tf versions').execute!({ state: 'default', count: 10 }, ctx)).rejects.toThrow(`There is no object at s3://${world.bucket}/${DDB_KEY}`);
    await putStates(world, DDB_KEY, ['state-serial1.tfstate']);
    const text = replyToText(await verb('tf versions').execute!({ state: 'default', count: 10 }, ctx));
    expect(text).toContain(`Versioning is not enabled on bucket ${world.bucket}: a restore is impossible`);
  });
});

describe('tf restore (operator, approval)', () => {
  it('rejects a malformed version ID in parse, accepts one pasted in backticks', async () => {
    const world = await tfWorld(aws, { createBucket: false, createTable: false });
    const ctx = contextFor(world);
    expect(() => parse('tf restore', ctx, args(['abc def']))).toThrow(UsageError);
    expect(() => parse('tf restore', ctx, args(['<3sL4kq>']))).toThrow(/is not an S3 version ID/);
    expect(parse('tf restore', ctx, args(['`3sL4kqtJlcpX+rmS=`', 'lockfile'], { 'allow-other-lineage': true }))).toEqual({
      versionId: '3sL4kqtJlcpX+rmS=',
      state: 'lockfile',
      allowOtherLineage: true,
    });
  });

  it('plans current → chosen, runs the job, and ends with the new current version and the undo command', async () => {
    const world = await tfWorld(aws);
    const ids = await putStates(world, DDB_KEY, ['state-serial1.tfstate', 'state-serial2.tfstate', 'state-serial3.tfstate']);
    const ctx = contextFor(world);
    const restore = verb<{ versionId: string; state: string; allowOtherLineage: boolean }>('tf restore');
    expect([restore.minRole, restore.guard]).toEqual(['operator', 'approval']);
    const params = parse<{ versionId: string; state: string; allowOtherLineage: boolean }>('tf restore', ctx, args([ids[1]!]));
    const plan = await planOf(restore, params, ctx);
    expect(plan.title).toContain(`current ${ids[2]} (serial 3, lineage ${CAPTURED.lineage}) → version ${ids[1]} (serial 2, lineage ${CAPTURED.lineage})`);
    const result = (await runJob(tfRestoreJob, params, ctx)).reply;
    const current = await getObjectText(world, DDB_KEY);
    expect(current?.body).toBe(withSerial(fixture('state-serial2.tfstate'), 4).toString('utf8'));
    expect(result.summary).toBe(
      `Restored Terraform state "default" to version ${ids[1]}: the new current version is ${current?.versionId}. Undo: /autostack tf restore ${ids[2]} default`,
    );
    const last = result.parts.at(-1);
    expect(last).toEqual({ kind: 'code', text: `/autostack tf restore ${ids[2]} default` });
    expect((await versionIds(world, DDB_KEY)).versions).toHaveLength(4);
    expect((await getItem(world, `${world.bucket}/${DDB_KEY}-md5`))?.Digest?.S).toBe(md5(withSerial(fixture('state-serial2.tfstate'), 4)));
    expect(ctx.audited).toContainEqual(expect.objectContaining({ action: 'tf restore', result: 'restored' }));
  });

  it('the job refuses while someone else holds the lock; nothing changes', async () => {
    const world = await tfWorld(aws);
    const ids = await putStates(world, DDB_KEY, ['state-serial1.tfstate', 'state-serial2.tfstate']);
    await putCapturedDynamoLock(world);
    const ctx = contextFor(world);
    const params = { versionId: ids[0]!, state: 'default', allowOtherLineage: false };
    await expect(runJob(tfRestoreJob, params, ctx)).rejects.toThrow(`State "default" is locked by someone else: lock ${CAPTURED.ddbLockId} held by root@vm`);
    expect((await getObjectText(world, DDB_KEY))?.versionId).toBe(ids[1]);
    expect((await allItems(world)).map((i) => i.LockID!.S)).toEqual([`${world.bucket}/${DDB_KEY}`, `${world.bucket}/${DDB_KEY}-md5`]);
  });
});
