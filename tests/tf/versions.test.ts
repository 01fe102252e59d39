import { describe, expect, it } from 'vitest';
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { isValidVersionId, listStateVersions, summarizeState } from '../../commands/tf/versions.ts';
import { awsClients } from '../harness/env.ts';
import { CAPTURED, DDB_KEY, fixture, putCapturedLockFile, putStates, tfWorld } from './fixtures.ts';

const aws = awsClients();

describe('state versions', () => {
  it('lists the versions newest first with serial, lineage and terraform_version; current marked', async () => {
    const world = await tfWorld(aws);
    const ids = await putStates(world, DDB_KEY, ['state-serial1.tfstate', 'state-serial2.tfstate', 'state-serial3.tfstate']);
    // Keys sharing the prefix are not versions of the state.
    await putCapturedLockFile(world, 'lockfile.tflock', DDB_KEY);
    await world.s3.send(new PutObjectCommand({ Bucket: world.bucket, Key: `${DDB_KEY}-backup`, Body: 'x' }));

    const versions = await listStateVersions(world.s3, world.state('default'), 10);
    expect(versions.map((v) => [v.versionId, v.isLatest, v.deleteMarker, v.size, v.summary])).toEqual([
      [ids[2], true, false, 862, { serial: 3, lineage: CAPTURED.lineage, terraformVersion: '1.11.4' }],
      [ids[1], false, false, 862, { serial: 2, lineage: CAPTURED.lineage, terraformVersion: '1.11.4' }],
      [ids[0], false, false, 862, { serial: 1, lineage: CAPTURED.lineage, terraformVersion: '1.11.4' }],
    ]);
    expect(versions[0]!.lastModified).toBeInstanceOf(Date);
    expect((await listStateVersions(world.s3, world.state('default'), 2)).map((v) => v.versionId)).toEqual([ids[2], ids[1]]);
  });

  it('marks a delete marker and shows it as current when the state is deleted', async () => {
    const world = await tfWorld(aws);
    const ids = await putStates(world, DDB_KEY, ['state-serial1.tfstate']);
    const marker = await world.s3.send(new DeleteObjectCommand({ Bucket: world.bucket, Key: DDB_KEY }));
    const versions = await listStateVersions(world.s3, world.state('default'), 10);
    expect(versions.map((v) => [v.versionId, v.isLatest, v.deleteMarker])).toEqual([
      [marker.VersionId, true, true],
      [ids[0], false, false],
    ]);
    expect(versions[0]!.summary).toBeUndefined();
  });

  it('reads serial and lineage from a large state by its first bytes', async () => {
    const world = await tfWorld(aws);
    const base = JSON.parse(fixture('state-serial2.tfstate').toString('utf8')) as Record<string, unknown>;
    const big = JSON.stringify({ ...base, padding: 'x'.repeat(200_000) }, null, 2);
    await world.s3.send(new PutObjectCommand({ Bucket: world.bucket, Key: DDB_KEY, Body: big }));
    const [v] = await listStateVersions(world.s3, world.state('default'), 1);
    expect(v!.summary).toEqual({ serial: 2, lineage: CAPTURED.lineage, terraformVersion: '1.11.4' });
  });

  it('summarizes a prefix of a state and validates version IDs', () => {
    expect(summarizeState('{\n  "version": 4,\n  "terraform_version": "1.11.4",\n  "serial": 7,\n  "lineage": "abc",\n  "outputs": {')).toEqual({
      serial: 7,
      lineage: 'abc',
      terraformVersion: '1.11.4',
    });
    expect(isValidVersionId('3sL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY+MTRCxf3vjVBH40Nr8X8gdRQBpUMLUo')).toBe(true);
    expect(isValidVersionId('d4f597e5-4ae9-4356-8c5f-11dcdbd71230')).toBe(true);
    expect(isValidVersionId('null')).toBe(true);
    expect(isValidVersionId('abc def')).toBe(false);
    expect(isValidVersionId('"abc"')).toBe(false);
    expect(isValidVersionId('')).toBe(false);
  });
});
