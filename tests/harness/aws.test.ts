import { describe, expect, it } from 'vitest';
import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  PutItemCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, ListObjectVersionsCommand, PutBucketVersioningCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import {
  CreateRoleCommand,
  DeleteConflictException,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  GetRoleCommand,
  NoSuchEntityException,
  PutRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { awsClients, testServices, uniqueName } from './env.ts';

describe('moto_server (AWS API mock)', () => {
  const { dynamodb, s3, iam, sts } = awsClients();

  it('answers STS GetCallerIdentity with the test account', async () => {
    const identity = await sts.send(new GetCallerIdentityCommand({}));
    expect(identity.Account).toMatch(/^\d{12}$/);
  });

  it('is the default for code under test that builds clients without explicit settings', async () => {
    expect(process.env.AWS_ENDPOINT_URL).toBe(testServices().awsEndpoint);
    expect(process.env.AWS_ACCESS_KEY_ID).toBe('test');
    const plain = new STSClient({});
    try {
      expect(await plain.config.region()).toBe('us-east-1');
      const identity = await plain.send(new GetCallerIdentityCommand({}));
      expect(identity.Account).toMatch(/^\d{12}$/);
    } finally {
      plain.destroy();
    }
  });

  it('DynamoDB enforces a conditional PutItem (attribute_not_exists)', async () => {
    const table = uniqueName('locks');
    await dynamodb.send(
      new CreateTableCommand({
        TableName: table,
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    await waitUntilTableExists({ client: dynamodb, maxWaitTime: 30 }, { TableName: table });

    const put = () =>
      dynamodb.send(
        new PutItemCommand({
          TableName: table,
          Item: { pk: { S: 'lock#deploy' }, owner: { S: 'u1' } },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    await expect(put()).resolves.toBeDefined();
    await expect(put()).rejects.toBeInstanceOf(ConditionalCheckFailedException);
  });

  it('S3 keeps both versions of an object in a versioned bucket', async () => {
    const bucket = uniqueName('bkt');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'state.json', Body: '{"v":1}' }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'state.json', Body: '{"v":2}' }));

    const listed = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: 'state.json' }));
    const versions = listed.Versions ?? [];
    expect(versions).toHaveLength(2);
    expect(new Set(versions.map((v) => v.VersionId)).size).toBe(2);
    expect(versions.filter((v) => v.IsLatest)).toHaveLength(1);
  });

  it('IAM refuses DeleteRole while an inline policy remains', async () => {
    const role = uniqueName('role');
    await iam.send(
      new CreateRoleCommand({
        RoleName: role,
        AssumeRolePolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }],
        }),
      }),
    );
    await iam.send(
      new PutRolePolicyCommand({
        RoleName: role,
        PolicyName: 'inline',
        PolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }],
        }),
      }),
    );

    await expect(iam.send(new DeleteRoleCommand({ RoleName: role }))).rejects.toBeInstanceOf(DeleteConflictException);
    await expect(iam.send(new GetRoleCommand({ RoleName: role }))).resolves.toBeDefined();

    await iam.send(new DeleteRolePolicyCommand({ RoleName: role, PolicyName: 'inline' }));
    await iam.send(new DeleteRoleCommand({ RoleName: role }));
    await expect(iam.send(new GetRoleCommand({ RoleName: role }))).rejects.toBeInstanceOf(NoSuchEntityException);
  });
});
