/**
 * Access denied and other AWS errors, as the real SDK parses them from AWS-shaped responses (the
 * fault proxy answers chosen requests like AWS would; moto's IAM enforcement is server-wide, so it
 * cannot be switched on for one test file).
 */
import { describe, expect, it } from 'vitest';
import { UserFacingError } from '../../src/core/types.ts';
import { readLocks } from '../../commands/tf/locks.ts';
import { currentVersionId, listStateVersions, readStateObject } from '../../commands/tf/versions.ts';
import { awsClients } from '../harness/env.ts';
import { DDB_KEY, putStates, tfWorld } from './fixtures.ts';
import { dynamoError, s3Error, startFaultProxy } from './fault-proxy.ts';

const aws = awsClients();

async function setup() {
  const world = await tfWorld(aws);
  await putStates(world, DDB_KEY, ['state-serial1.tfstate']);
  const proxy = await startFaultProxy();
  return { world, proxy, clients: { s3: proxy.s3, dynamodb: proxy.dynamodb, region: 'us-east-1' } };
}

describe('AWS errors become actionable messages', () => {
  it('DynamoDB access denied names the action and resource AWS reports', async () => {
    const { world, proxy, clients } = await setup();
    const arn = `arn:aws:dynamodb:us-east-1:123456789012:table/${world.table}`;
    proxy.rule = (req) =>
      req.dynamoOperation === 'GetItem'
        ? dynamoError(400, 'AccessDeniedException', `User: arn:aws:sts::123456789012:assumed-role/AutoStackTerraformRole/U1 is not authorized to perform: dynamodb:GetItem on resource: ${arn} because no identity-based policy allows the dynamodb:GetItem action`)
        : undefined;
    const error = (await readLocks(clients, world.state('default')).catch((e: unknown) => e)) as UserFacingError;
    expect(error).toBeInstanceOf(UserFacingError);
    expect(error.message).toBe(`Access denied: the bot's AWS role is missing dynamodb:GetItem on ${arn}.`);
    expect(error.hint).toContain(`Grant dynamodb:GetItem on ${arn}`);
  });

  it('DynamoDB access denied without details names the call the bot made', async () => {
    const { world, proxy, clients } = await setup();
    proxy.rule = (req) => (req.dynamoOperation === 'GetItem' ? dynamoError(400, 'AccessDeniedException', 'Access denied') : undefined);
    await expect(readLocks(clients, world.state('default'))).rejects.toThrow(
      `Access denied: the bot's AWS role is missing dynamodb:GetItem on arn:aws:dynamodb:us-east-1:*:table/${world.table}.`,
    );
  });

  it('S3 access denied names the S3 action and object ARN (GET, HEAD and listing)', async () => {
    const { world, proxy, clients } = await setup();
    proxy.rule = () => s3Error(403, 'AccessDenied', 'Access Denied');
    await expect(readLocks(clients, world.state('lockfile'))).rejects.toThrow(
      `Access denied: the bot's AWS role is missing s3:GetObject on arn:aws:s3:::${world.bucket}/autostack/lockfile.tfstate.tflock.`,
    );
    // A HEAD's 403 has no body: the SDK knows it only by status.
    await expect(currentVersionId(clients.s3, world.state('default'))).rejects.toThrow(
      `Access denied: the bot's AWS role is missing s3:GetObject on arn:aws:s3:::${world.bucket}/${DDB_KEY}.`,
    );
    await expect(listStateVersions(clients.s3, world.state('default'), 5)).rejects.toThrow(
      `Access denied: the bot's AWS role is missing s3:ListBucketVersions on arn:aws:s3:::${world.bucket}.`,
    );
    await expect(readStateObject(clients.s3, world.state('default'), 'abc')).rejects.toThrow(`missing s3:GetObjectVersion on arn:aws:s3:::${world.bucket}/${DDB_KEY}.`);
  });

  it('rejected credentials are not reported as a missing permission', async () => {
    const { world, proxy, clients } = await setup();
    proxy.rule = (req) =>
      req.dynamoOperation ? dynamoError(400, 'UnrecognizedClientException', 'The security token included in the request is invalid.') : s3Error(403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.');
    await expect(readLocks(clients, world.state('default'))).rejects.toThrow(
      `AWS did not accept the bot's credentials (UnrecognizedClientException) for dynamodb:GetItem on arn:aws:dynamodb:us-east-1:*:table/${world.table}.`,
    );
    await expect(readLocks(clients, world.state('lockfile'))).rejects.toThrow(`AWS did not accept the bot's credentials (InvalidAccessKeyId) for s3:GetObject`);
  });

  it('a version ID AWS calls invalid is reported as malformed', async () => {
    const { world, proxy, clients } = await setup();
    proxy.rule = (req) => (req.url.includes('versionId=') ? s3Error(400, 'InvalidArgument', 'Invalid version id specified') : undefined);
    await expect(readStateObject(clients.s3, world.state('default'), 'abc.def')).rejects.toThrow(
      `"abc.def" is not a valid version ID for s3://${world.bucket}/${DDB_KEY}.`,
    );
  });
});
