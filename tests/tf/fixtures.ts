/**
 * Terraform's own bytes, loaded into moto for the tests.
 *
 * How the files in fixtures/ were captured: Terraform CLI v1.11.4 ran a configuration with only a
 * `terraform_data` resource (no provider download) against a local moto_server, with an S3 backend
 * (`endpoints = { s3, dynamodb }`, `use_path_style`, the skip_* validations, static test keys):
 * - bucket autostack-tfstate (versioning on), key autostack/terraform.tfstate, `dynamodb_table =
 *   "autostack-tf-locks"`: three applies wrote state-serial1/2/3.tfstate (one version each) and the
 *   checksum item; an apply left waiting at its confirmation prompt held the lock, and the table
 *   was dumped (dynamodb-items-locked.json: the lock item and the `-md5` checksum item).
 * - a state made with a local backend and pushed with `terraform state push -force` gave
 *   state-other-lineage.tfstate (another lineage).
 * - key autostack/lockfile.tfstate with `use_lockfile = true` only: lockfile.tflock is the lock
 *   file's body while an apply waited (Terraform 1.11 writes no checksum in that mode).
 * - key autostack/both.tfstate with both `use_lockfile` and `dynamodb_table`: both.tflock and
 *   dynamodb-items-both-locked.json (same lock ID in both; the checksum stays in DynamoDB) and
 *   state-both.tfstate.
 * Tests run in parallel against one moto, so each uses its own bucket: the bucket name inside the
 * lock's Path and LockID ("autostack-tfstate/...") is replaced by the test's bucket on loading.
 * Everything else is byte-for-byte what Terraform wrote.
 */
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { CreateTableCommand, GetItemCommand, PutItemCommand, ScanCommand, waitUntilTableExists } from '@aws-sdk/client-dynamodb';
import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, GetObjectCommand, ListObjectVersionsCommand, PutBucketVersioningCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import { parseConfig } from '../../src/config.ts';
import type { Config } from '../../src/config.ts';
import type { TfClients } from '../../commands/tf/locks.ts';
import { resolveState } from '../../commands/tf/states.ts';
import type { TfState } from '../../commands/tf/states.ts';
import { TEST_AWS_REGION, uniqueName } from '../harness/env.ts';

export const FIXTURE_BUCKET = 'autostack-tfstate';
export const DDB_KEY = 'autostack/terraform.tfstate';
export const LOCKFILE_KEY = 'autostack/lockfile.tfstate';
export const BOTH_KEY = 'autostack/both.tfstate';

/** Lock IDs Terraform generated in the captured runs. */
export const CAPTURED = {
  ddbLockId: '0af19248-e248-2186-fe05-56cd70698319',
  lockfileLockId: 'de569683-3a3e-352a-63fc-037d091f7f5e',
  bothLockId: '6ebf9001-6ad7-760d-dee2-fc1035eb113c',
  lineage: 'e715f80c-13e9-a7e9-3b23-1d380ae25b1c',
  otherLineage: '7a359ce8-65ac-c5fa-6b28-4c34090c8228',
} as const;

export function fixture(name: string): Buffer {
  return readFileSync(new URL(`./fixtures/${name}`, import.meta.url));
}

export function md5(data: Uint8Array | string): string {
  return createHash('md5').update(data).digest('hex');
}

/** Rewrites "autostack-tfstate/" (the captured bucket) to the test's bucket in a string. */
export function rebucket(text: string, bucket: string): string {
  return text.split(`${FIXTURE_BUCKET}/`).join(`${bucket}/`);
}

type Item = Record<string, AttributeValue>;

/** The captured DynamoDB items (lock and checksum), for the test's bucket. */
export function fixtureItems(name: string, bucket: string): Item[] {
  const items = JSON.parse(fixture(name).toString('utf8')) as Array<Record<string, { S: string }>>;
  return items.map((item) => Object.fromEntries(Object.entries(item).map(([k, v]) => [k, { S: rebucket(v.S, bucket) }])));
}

export interface TfWorld {
  bucket: string;
  table: string;
  s3: S3Client;
  dynamodb: DynamoDBClient;
  clients: TfClients;
  config: Config;
  /** The `terraform` configuration section (raw, YAML-shaped) naming this world's bucket and table. */
  terraform: Record<string, unknown>;
  state(name?: string): TfState;
}

export interface WorldOptions {
  versioning?: 'Enabled' | 'Suspended' | 'none';
  createTable?: boolean;
  createBucket?: boolean;
}

/** A fresh bucket and lock table in moto, and a configuration with one state per captured setup. */
export async function tfWorld(aws: { s3: S3Client; dynamodb: DynamoDBClient }, options: WorldOptions = {}): Promise<TfWorld> {
  const bucket = uniqueName('tfstate');
  const table = uniqueName('tflocks');
  if (options.createBucket !== false) {
    await aws.s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const versioning = options.versioning ?? 'Enabled';
    if (versioning !== 'none') {
      await aws.s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: versioning } }));
    }
  }
  if (options.createTable !== false) {
    await aws.dynamodb.send(
      new CreateTableCommand({
        TableName: table,
        AttributeDefinitions: [{ AttributeName: 'LockID', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'LockID', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    await waitUntilTableExists({ client: aws.dynamodb, maxWaitTime: 30 }, { TableName: table });
  }
  const terraform = {
    lockTable: table,
    states: [
      { name: 'default', bucket, key: DDB_KEY },
      { name: 'lockfile', bucket, key: LOCKFILE_KEY, s3Lock: true },
      { name: 'both', bucket, key: BOTH_KEY, s3Lock: true, lockTable: table },
    ],
  };
  const config = parseConfig({ terraform });
  return {
    bucket,
    table,
    s3: aws.s3,
    dynamodb: aws.dynamodb,
    clients: { s3: aws.s3, dynamodb: aws.dynamodb, region: TEST_AWS_REGION },
    config,
    terraform,
    state: (name) => resolveState(config, name),
  };
}

/** Writes states one after the other as Terraform's Put does (object, then checksum item); returns the version IDs. */
export async function putStates(world: TfWorld, key: string, files: string[], options: { digest?: boolean } = {}): Promise<string[]> {
  const ids: string[] = [];
  for (const file of files) {
    const body = fixture(file);
    const out = await world.s3.send(new PutObjectCommand({ Bucket: world.bucket, Key: key, Body: body, ContentType: 'application/json' }));
    ids.push(out.VersionId!);
    if (options.digest !== false) {
      await world.dynamodb.send(
        new PutItemCommand({ TableName: world.table, Item: { LockID: { S: `${world.bucket}/${key}-md5` }, Digest: { S: md5(body) } } }),
      );
    }
  }
  return ids;
}

export async function putItems(world: TfWorld, items: Item[]): Promise<void> {
  for (const item of items) await world.dynamodb.send(new PutItemCommand({ TableName: world.table, Item: item }));
}

/** The captured DynamoDB lock (without its checksum item); returns its Info string. */
export async function putCapturedDynamoLock(world: TfWorld): Promise<string> {
  const [lock] = fixtureItems('dynamodb-items-locked.json', world.bucket).filter((i) => i.Info);
  await putItems(world, [lock!]);
  return lock!.Info!.S!;
}

/** The captured S3 lock file body at `<key>.tflock`; returns the body written. */
export async function putCapturedLockFile(world: TfWorld, name = 'lockfile.tflock', key = LOCKFILE_KEY): Promise<string> {
  const body = rebucket(fixture(name).toString('utf8'), world.bucket);
  await world.s3.send(new PutObjectCommand({ Bucket: world.bucket, Key: `${key}.tflock`, Body: body, ContentType: 'application/json' }));
  return body;
}

export async function getItem(world: TfWorld, lockId: string): Promise<Item | undefined> {
  const out = await world.dynamodb.send(new GetItemCommand({ TableName: world.table, Key: { LockID: { S: lockId } }, ConsistentRead: true }));
  return out.Item;
}

export async function allItems(world: TfWorld): Promise<Item[]> {
  const out = await world.dynamodb.send(new ScanCommand({ TableName: world.table, ConsistentRead: true }));
  return (out.Items ?? []).sort((a, b) => (a.LockID!.S! < b.LockID!.S! ? -1 : 1));
}

export async function getObjectText(world: TfWorld, key: string, versionId?: string): Promise<{ body: string; versionId?: string } | undefined> {
  try {
    const out = await world.s3.send(new GetObjectCommand({ Bucket: world.bucket, Key: key, ...(versionId ? { VersionId: versionId } : {}) }));
    return { body: (await out.Body!.transformToString('utf8')), ...(out.VersionId ? { versionId: out.VersionId } : {}) };
  } catch (error) {
    if ((error as Error).name === 'NoSuchKey') return undefined;
    throw error;
  }
}

export async function versionIds(world: TfWorld, key: string): Promise<{ versions: string[]; deleteMarkers: string[] }> {
  const out = await world.s3.send(new ListObjectVersionsCommand({ Bucket: world.bucket, Prefix: key }));
  return {
    versions: (out.Versions ?? []).filter((v) => v.Key === key).map((v) => v.VersionId!),
    deleteMarkers: (out.DeleteMarkers ?? []).filter((v) => v.Key === key).map((v) => v.VersionId!),
  };
}
