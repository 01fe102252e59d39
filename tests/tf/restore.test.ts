import { describe, expect, it } from 'vitest';
import { DeleteItemCommand } from '@aws-sdk/client-dynamodb';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { UserFacingError } from '../../src/core/types.ts';
import { LockHeldError } from '../../commands/tf/locks.ts';
import { inspectRestore, performRestore, restorePlan, withSerial } from '../../commands/tf/restore.ts';
import { listStateVersions, summarizeState } from '../../commands/tf/versions.ts';
import type { RestoreParams } from '../../commands/tf/restore.ts';
import { awsClients } from '../harness/env.ts';
import {
  allItems,
  BOTH_KEY,
  CAPTURED,
  DDB_KEY,
  fixture,
  getItem,
  getObjectText,
  LOCKFILE_KEY,
  md5,
  putCapturedDynamoLock,
  putStates,
  tfWorld,
  versionIds,
} from './fixtures.ts';
import type { TfWorld } from './fixtures.ts';
import { dynamoError, dynamoLockId, isPutObject, s3Error, startFaultProxy } from './fault-proxy.ts';

const aws = awsClients();
const run = (steps: string[] = []) => ({ requestedBy: 'U012ABCDEF', now: () => new Date(), step: async (t: string) => void steps.push(t) });
const params = (versionId: string, extra: Partial<RestoreParams> = {}): RestoreParams => ({ versionId, state: 'default', allowOtherLineage: false, ...extra });

/** A fixture as the restore writes it: its bytes with only the top-level serial changed. */
const restoredAs = (name: string, serial: number) => withSerial(fixture(name), serial);

async function threeVersions(world: TfWorld): Promise<string[]> {
  return putStates(world, DDB_KEY, ['state-serial1.tfstate', 'state-serial2.tfstate', 'state-serial3.tfstate']);
}

describe('restore: makes an earlier version current again', () => {
  it('writes the chosen version with its lineage and a serial above every serial in the history, keeps every version, sets a matching checksum item and releases the lock', async () => {
    const world = await tfWorld(aws);
    const state = world.state('default');
    const ids = await threeVersions(world);
    expect((await getItem(world, state.digestId))?.Digest?.S).toBe(md5(fixture('state-serial3.tfstate')));

    const snapshot = await inspectRestore(world.clients, state, params(ids[0]!), new Date());
    const plan = restorePlan(state, snapshot, 'us-east-1');
    expect(plan.title).toBe(
      `Restore Terraform state "default": current ${ids[2]} (serial 3, lineage ${CAPTURED.lineage}) → version ${ids[0]} (serial 1, lineage ${CAPTURED.lineage})`,
    );
    expect(plan.warnings).toEqual([
      `Version ${ids[0]} (serial 1) is older than the current state (serial 3): changes Terraform recorded after it are no longer in the state (the resources still exist; the next plan shows them).`,
    ]);
    const restored = restoredAs('state-serial1.tfstate', 4);
    expect(plan.steps).toContain(
      `Write version ${ids[0]}'s content to s3://${world.bucket}/${DDB_KEY} as a new version (every version is kept), like \`terraform state push\`: lineage ${CAPTURED.lineage} kept, serial 1 → 4 (above 3, the highest serial in the object's history), nothing else changed (MD5 ${md5(restored)})`,
    );
    expect(snapshot.restored).toEqual({ serial: 4, highestSerial: 3, md5: md5(restored), size: restored.length });

    const steps: string[] = [];
    const result = await performRestore(world.clients, state, snapshot, run(steps));

    const current = await getObjectText(world, DDB_KEY);
    expect(current?.versionId).toBe(result.newVersionId);
    expect(current?.body).toBe(restored.toString('utf8'));
    // Only the serial differs from the chosen version; it is above every serial in the history.
    expect({ ...JSON.parse(current!.body), serial: 1 }).toEqual(JSON.parse(fixture('state-serial1.tfstate').toString('utf8')));
    expect(summarizeState(current!.body)).toMatchObject({ serial: 4, lineage: CAPTURED.lineage });
    const history = await listStateVersions(world.s3, state, 100);
    expect(history.filter((v) => v.versionId !== result.newVersionId).map((v) => v.summary?.serial)).toEqual([3, 2, 1]);
    expect(result.previousVersionId).toBe(ids[2]);
    // Every version is still there, plus the new one.
    const after = await versionIds(world, DDB_KEY);
    expect(after.versions.sort()).toEqual([...ids, result.newVersionId].sort());
    expect(after.deleteMarkers).toEqual([]);
    // Terraform's checksum matches the restored bytes: the next plan accepts the state.
    expect((await getItem(world, state.digestId))?.Digest?.S).toBe(md5(restored));
    // The lock is released and nothing else was left in the table.
    expect((await allItems(world)).map((i) => i.LockID!.S)).toEqual([state.digestId]);
    expect(steps[0]).toMatch(/^Took the state lock [0-9a-f-]{36} \(DynamoDB /);
    expect(steps.at(-1)).toBe(`Released the state lock ${result.lockId}.`);
  });

  it('holds a Terraform-shaped lock while it works, so no Terraform run can start', async () => {
    const world = await tfWorld(aws);
    const state = world.state('default');
    const ids = await threeVersions(world);
    const snapshot = await inspectRestore(world.clients, state, params(ids[1]!), new Date());
    let seenDuringCopy: string | undefined;
    await performRestore(world.clients, state, snapshot, {
      ...run(),
      step: async (text) => {
        if (text.startsWith('Current version before the restore')) seenDuringCopy = (await getItem(world, state.lockId))?.Info?.S;
      },
    });
    const info = JSON.parse(seenDuringCopy!) as Record<string, string>;
    expect(Object.keys(info)).toEqual(['ID', 'Operation', 'Info', 'Who', 'Version', 'Created', 'Path']);
    expect(info).toMatchObject({ Operation: 'state-push', Who: 'autostack-chatops:U012ABCDEF', Path: state.lockId });
  });

  it('works with the S3 lock file (use_lockfile): takes and releases <key>.tflock, writes no checksum item', async () => {
    const world = await tfWorld(aws);
    const state = world.state('lockfile');
    const ids = await putStates(world, LOCKFILE_KEY, ['state-serial1.tfstate', 'state-serial2.tfstate'], { digest: false });
    const snapshot = await inspectRestore(world.clients, state, { ...params(ids[0]!), state: 'lockfile' }, new Date());
    const result = await performRestore(world.clients, state, snapshot, run());
    expect(result.digestUpdated).toBe(false);
    expect((await getObjectText(world, LOCKFILE_KEY))?.body).toBe(restoredAs('state-serial1.tfstate', 3).toString('utf8'));
    expect(await getObjectText(world, `${LOCKFILE_KEY}.tflock`)).toBeUndefined();
    expect(await allItems(world)).toEqual([]);
  });
});

describe('restore: the migration setup (lock file and DynamoDB)', () => {
  it('takes both locks, updates the DynamoDB checksum item and releases both', async () => {
    const world = await tfWorld(aws);
    const state = world.state('both');
    const ids = await putStates(world, BOTH_KEY, ['state-serial1.tfstate', 'state-both.tfstate']);
    expect((await getItem(world, state.digestId))?.Digest?.S).toBe('8dcd34ededa261c8dce839b9d89ebda7');
    const snapshot = await inspectRestore(world.clients, state, params(ids[0]!, { state: 'both', allowOtherLineage: true }), new Date());
    const steps: string[] = [];
    await performRestore(world.clients, state, snapshot, run(steps));
    expect(steps[0]).toMatch(/^Took the state lock .* \(S3 autostack\/both\.tfstate\.tflock and DynamoDB /);
    expect((await getObjectText(world, BOTH_KEY))?.body).toBe(restoredAs('state-serial1.tfstate', 2).toString('utf8'));
    expect((await getItem(world, state.digestId))?.Digest?.S).toBe(md5(restoredAs('state-serial1.tfstate', 2)));
    expect(await getItem(world, state.lockId)).toBeUndefined();
    expect(await getObjectText(world, `${BOTH_KEY}.tflock`)).toBeUndefined();
  });
});

describe('restore: refusals and clear errors', () => {
  it('refuses while someone else holds the lock, before and when taking it', async () => {
    const world = await tfWorld(aws);
    const state = world.state('default');
    const ids = await threeVersions(world);
    const theirs = await putCapturedDynamoLock(world);
    await expect(inspectRestore(world.clients, state, params(ids[0]!), new Date())).rejects.toBeInstanceOf(LockHeldError);

    // The lock appears after the approval: taking it fails, nothing changes.
    await world.dynamodb.send(new DeleteItemCommand({ TableName: world.table, Key: { LockID: { S: state.lockId } } }));
    const snapshot = await inspectRestore(world.clients, state, params(ids[0]!), new Date());
    await putCapturedDynamoLock(world);
    const error = await performRestore(world.clients, state, snapshot, run()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockHeldError);
    expect((error as Error).message).toContain(`State "default" is locked by someone else: lock ${CAPTURED.ddbLockId} held by root@vm for OperationTypeApply`);
    expect((await getItem(world, state.lockId))?.Info?.S).toBe(theirs);
    expect((await getObjectText(world, DDB_KEY))?.versionId).toBe(ids[2]);
    expect((await getItem(world, state.digestId))?.Digest?.S).toBe(md5(fixture('state-serial3.tfstate')));
  });

  it('refuses another lineage unless confirmed, and says how to confirm', async () => {
    const world = await tfWorld(aws);
    const state = world.state('default');
    const [, , other] = await putStates(world, DDB_KEY, ['state-serial1.tfstate', 'state-serial2.tfstate', 'state-other-lineage.tfstate', 'state-serial3.tfstate']);
    const error = (await inspectRestore(world.clients, state, params(other!), new Date()).catch((e: unknown) => e)) as UserFacingError;
    expect(error).toBeInstanceOf(UserFacingError);
    expect(error.message).toContain(`its lineage is ${CAPTURED.otherLineage}, the current state's is ${CAPTURED.lineage}`);
    expect(error.hint).toBe(`If that is really intended, confirm it explicitly: \`/autostack tf restore ${other} default --allow-other-lineage\``);

    const snapshot = await inspectRestore(world.clients, state, params(other!, { allowOtherLineage: true }), new Date());
    expect(restorePlan(state, snapshot, 'us-east-1').warnings?.[0]).toContain(`Lineage changes: ${CAPTURED.lineage} → ${CAPTURED.otherLineage}`);
  });

  it('says a restore is impossible when versioning is not enabled', async () => {
    for (const versioning of ['none', 'Suspended'] as const) {
      const world = await tfWorld(aws, { versioning });
      await putStates(world, DDB_KEY, ['state-serial1.tfstate']);
      await expect(inspectRestore(world.clients, world.state('default'), params('null'), new Date())).rejects.toThrow(
        `Versioning is ${versioning === 'none' ? 'not enabled' : 'suspended'} on bucket ${world.bucket}: a restore is impossible`,
      );
    }
  });

  it('says clearly when the version, the bucket or the table is missing, or the version is a delete marker or current', async () => {
    const world = await tfWorld(aws);
    const state = world.state('default');
    const ids = await threeVersions(world);
    await expect(inspectRestore(world.clients, state, params('0f8b2142-6dbe-43a5-b900-0dd197066a57'), new Date())).rejects.toThrow(
      `Version 0f8b2142-6dbe-43a5-b900-0dd197066a57 of s3://${world.bucket}/${DDB_KEY} does not exist.`,
    );
    await expect(inspectRestore(world.clients, state, params(ids[2]!), new Date())).rejects.toThrow(`Version ${ids[2]} is already the current state of "default"`);
    const marker = await world.s3.send(new DeleteObjectCommand({ Bucket: world.bucket, Key: DDB_KEY }));
    await expect(inspectRestore(world.clients, state, params(marker.VersionId!), new Date())).rejects.toThrow(`is a delete marker, not a state`);

    const noBucket = await tfWorld(aws, { createBucket: false });
    await expect(inspectRestore(noBucket.clients, noBucket.state('default'), params(ids[0]!), new Date())).rejects.toThrow(
      `The S3 bucket "${noBucket.bucket}" does not exist`,
    );
    const noTable = await tfWorld(aws, { createTable: false });
    const [v1] = await putStates(noTable, DDB_KEY, ['state-serial1.tfstate', 'state-serial2.tfstate'], { digest: false });
    await expect(inspectRestore(noTable.clients, noTable.state('default'), params(v1!), new Date())).rejects.toThrow(
      `The DynamoDB table "${noTable.table}" does not exist in us-east-1`,
    );
  });

  it('restores a deleted state (delete marker current)', async () => {
    const world = await tfWorld(aws);
    const state = world.state('default');
    const ids = await threeVersions(world);
    await world.s3.send(new DeleteObjectCommand({ Bucket: world.bucket, Key: DDB_KEY }));
    const snapshot = await inspectRestore(world.clients, state, params(ids[2]!), new Date());
    expect(snapshot.current).toBeUndefined();
    const result = await performRestore(world.clients, state, snapshot, run());
    expect((await getObjectText(world, DDB_KEY))?.versionId).toBe(result.newVersionId);
    expect(result.previousVersionId).toBeUndefined();
  });
});

describe('restore: a failing step releases the lock and says what was left', () => {
  it('write denied: state unchanged, checksum unchanged, lock released, missing IAM action named', async () => {
    const world = await tfWorld(aws);
    const state = world.state('default');
    const ids = await threeVersions(world);
    const proxy = await startFaultProxy();
    proxy.rule = (req) => (isPutObject(req, DDB_KEY) ? s3Error(403, 'AccessDenied', 'Access Denied') : undefined);
    const clients = { s3: proxy.s3, dynamodb: proxy.dynamodb, region: 'us-east-1' };
    const snapshot = await inspectRestore(clients, state, params(ids[0]!), new Date());

    const error = (await performRestore(clients, state, snapshot, run()).catch((e: unknown) => e)) as UserFacingError;
    expect(error).toBeInstanceOf(UserFacingError);
    expect(error.message).toBe(`Access denied: the bot's AWS role is missing s3:PutObject on arn:aws:s3:::${world.bucket}/${DDB_KEY}.`);
    expect(proxy.seen.some((req) => isPutObject(req, DDB_KEY))).toBe(true);
    expect(await getItem(world, state.lockId)).toBeUndefined();
    expect((await getObjectText(world, DDB_KEY))?.versionId).toBe(ids[2]);
    expect((await versionIds(world, DDB_KEY)).versions).toHaveLength(3);
    expect((await getItem(world, state.digestId))?.Digest?.S).toBe(md5(fixture('state-serial3.tfstate')));
  });

  it('checksum update fails after the copy: says exactly what state was left, how to fix or undo, and releases the lock', async () => {
    const world = await tfWorld(aws);
    const state = world.state('default');
    const ids = await threeVersions(world);
    const proxy = await startFaultProxy();
    proxy.rule = (req) =>
      req.dynamoOperation === 'PutItem' && dynamoLockId(req) === state.digestId
        ? dynamoError(400, 'AccessDeniedException', `User: arn:aws:sts::123456789012:assumed-role/AutoStackTerraformRole/U012ABCDEF is not authorized to perform: dynamodb:PutItem on resource: arn:aws:dynamodb:us-east-1:123456789012:table/${world.table} because no identity-based policy allows the dynamodb:PutItem action`)
        : undefined;
    const clients = { s3: proxy.s3, dynamodb: proxy.dynamodb, region: 'us-east-1' };
    const snapshot = await inspectRestore(clients, state, params(ids[0]!), new Date());

    const error = (await performRestore(clients, state, snapshot, run()).catch((e: unknown) => e)) as UserFacingError;
    const current = await getObjectText(world, DDB_KEY);
    expect(current?.body).toBe(restoredAs('state-serial1.tfstate', 4).toString('utf8'));
    expect(error.message).toBe(
      `The state object now holds version ${ids[0]}'s content (new current version ${current?.versionId}), but Terraform's checksum item "${state.digestId}" could not be set to ${md5(restoredAs('state-serial1.tfstate', 4))}: Access denied: the bot's AWS role is missing dynamodb:PutItem on arn:aws:dynamodb:us-east-1:123456789012:table/${world.table}. Terraform will refuse this state with a checksum mismatch until that Digest is set.`,
    );
    expect(error.hint).toBe(`Fix the permission and run the restore again, or undo with \`/autostack tf restore ${ids[2]} default\`.`);
    expect(await getItem(world, state.lockId)).toBeUndefined();
  });
});
