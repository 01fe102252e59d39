/**
 * The playground's AWS account in moto: the Terraform state bucket (versioned, three states of one
 * lineage, byte for byte what Terraform wrote) and lock table with a lock held 40 minutes, the
 * backup bucket, and the Terraform role with the runbook's minimal policy.
 */
import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { CreateTableCommand, PutItemCommand, waitUntilTableExists } from '@aws-sdk/client-dynamodb';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateRoleCommand, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import type { IAMClient } from '@aws-sdk/client-iam';
import { CreateBucketCommand, PutBucketVersioningCommand } from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import { parseConfig } from '../../../src/config.ts';
import { resolveState } from '../../../commands/tf/states.ts';
import { marshalLockInfo, parseLockInfo } from '../../../commands/tf/lockinfo.ts';
import { trustPolicyFor } from '../../../commands/iam/setup.ts';
import { fixtureItems, putStates } from '../../tf/fixtures.ts';
import type { TfWorld } from '../../tf/fixtures.ts';
import { ACCOUNT_ID, BACKUPS, IAM, REGION, TERRAFORM } from './world.ts';

export interface SeedAwsClients {
  s3: S3Client;
  dynamodb: DynamoDBClient;
  iam: IAMClient;
}

export interface SeededAws {
  stateVersionIds: string[];
  lockId: string;
  lockCreated: string;
}

/** Terraform's LockInfo.Created: RFC 3339 UTC with nanoseconds. */
export function terraformTime(time: Date): string {
  const nanos = `${String(time.getUTCMilliseconds()).padStart(3, '0')}${String(randomInt(1_000_000)).padStart(6, '0')}`;
  return `${time.toISOString().slice(0, 19)}.${nanos}Z`;
}

async function seedTerraform(clients: SeedAwsClients, now: Date): Promise<SeededAws> {
  const { s3, dynamodb } = clients;
  await s3.send(new CreateBucketCommand({ Bucket: TERRAFORM.bucket }));
  await s3.send(new PutBucketVersioningCommand({ Bucket: TERRAFORM.bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  await dynamodb.send(
    new CreateTableCommand({
      TableName: TERRAFORM.table,
      AttributeDefinitions: [{ AttributeName: 'LockID', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'LockID', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  await waitUntilTableExists({ client: dynamodb, maxWaitTime: 30 }, { TableName: TERRAFORM.table });

  const terraform = { lockTable: TERRAFORM.table, states: [{ name: 'default', bucket: TERRAFORM.bucket, key: TERRAFORM.key }] };
  const config = parseConfig({ terraform });
  const world: TfWorld = {
    bucket: TERRAFORM.bucket,
    table: TERRAFORM.table,
    s3,
    dynamodb,
    clients: { s3, dynamodb, region: REGION },
    config,
    terraform,
    state: (name) => resolveState(config, name),
  };
  // Three applies, one state version each, with the checksum item Terraform writes after each.
  const stateVersionIds = await putStates(world, TERRAFORM.key, ['state-serial1.tfstate', 'state-serial2.tfstate', 'state-serial3.tfstate']);

  // The lock an apply waiting at its prompt holds: Terraform's captured item, taken 40 minutes ago
  // by someone on the bastion.
  const [captured] = fixtureItems('dynamodb-items-locked.json', TERRAFORM.bucket).filter((item) => item.Info);
  const info = parseLockInfo(captured!.Info!.S!)!;
  const created = terraformTime(new Date(now.getTime() - TERRAFORM.lockAgeMinutes * 60_000));
  const lock = { ...info, Who: TERRAFORM.lockWho, Created: created };
  await dynamodb.send(new PutItemCommand({ TableName: TERRAFORM.table, Item: { LockID: captured!.LockID!, Info: { S: marshalLockInfo(lock) } } }));
  return { stateVersionIds, lockId: lock.ID, lockCreated: created };
}

async function seedIam(iam: IAMClient): Promise<void> {
  const policy = readFileSync(new URL('../../../policies/minimal-policy.json', import.meta.url), 'utf8');
  await iam.send(
    new CreateRoleCommand({
      RoleName: IAM.role,
      AssumeRolePolicyDocument: JSON.stringify(trustPolicyFor([`arn:aws:iam::${ACCOUNT_ID}:root`])),
      Description: 'Terraform for the AutoStack platform (runbook: IAM Setup)',
      MaxSessionDuration: 3600,
    }),
  );
  await iam.send(new PutRolePolicyCommand({ RoleName: IAM.role, PolicyName: IAM.policy, PolicyDocument: policy }));
}

/** Everything in AWS; the backup bucket is created empty (the database seeder fills it). */
export async function seedAws(clients: SeedAwsClients, now: Date): Promise<SeededAws> {
  const [terraform] = await Promise.all([seedTerraform(clients, now), clients.s3.send(new CreateBucketCommand({ Bucket: BACKUPS.bucket })), seedIam(clients.iam)]);
  return terraform;
}
