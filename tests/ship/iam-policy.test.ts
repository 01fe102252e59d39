/**
 * The generated IAM policy against moto with IAM authorization enforced (a private moto_server,
 * switched to enforcement with /moto-api/reset-auth once the fixtures exist): every call of the
 * permission table that moto can judge succeeds for a user holding only the bot's policy, and
 * calls outside it are refused. The calls moto cannot judge are listed with the reason.
 */
import { CopyObjectCommand, CreateBucketCommand, PutBucketVersioningCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import * as s3 from '@aws-sdk/client-s3';
import * as iam from '@aws-sdk/client-iam';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { Upload } from '@aws-sdk/lib-storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AWS_CALLS } from '../../deploy/permissions.ts';
import { iamPolicies } from '../../scripts/permissions.ts';
import { parseConfig } from '../../src/config.ts';
import { startMoto, type MotoInstance } from '../harness/services.ts';

/** Calls moto 5 cannot judge by resource, so a least-privilege grant cannot be exercised there. */
const NOT_ENFORCED: Record<string, string> = {
  'dynamodb GetItem': 'moto checks DynamoDB requests against the resource "*" only, so a grant on the lock table never matches',
  'dynamodb PutItem': 'moto checks DynamoDB requests against the resource "*" only',
  'dynamodb DeleteItem': 'moto checks DynamoDB requests against the resource "*" only',
  'wafv2 GetIPSet': 'moto checks WAFv2 requests against the resource "*" only',
  'wafv2 UpdateIPSet': 'moto checks WAFv2 requests against the resource "*" only',
  'iam GetPolicy': 'moto checks IAM requests without a RoleName against the resource "*" only',
  'iam GetPolicyVersion': 'moto checks IAM requests without a RoleName against the resource "*" only',
  'iam CreateRole': 'moto checks a role that does not exist yet against the resource "*"',
  'iam AddRoleToInstanceProfile': 'moto checks it on the role ARN, AWS on the instance profile (and iam:PassRole on the role)',
  'iam RemoveRoleFromInstanceProfile': 'moto checks it on the role ARN, AWS on the instance profile',
  'sts GetCallerIdentity': 'needs no permission',
};

const STATE = { bucket: 'autostack-tfstate', key: 'autostack/terraform.tfstate' };
const BACKUPS = 'autostack-backups';
const ROLE = 'AutoStackTerraformRole';
const config = parseConfig({ terraform: { states: [{ name: 'default', ...STATE, s3Lock: true }] } });

let moto: MotoInstance;
let admin: { s3: S3Client; iam: iam.IAMClient };
let bot: { s3: S3Client; iam: iam.IAMClient; sts: STSClient };
let assumer: STSClient;
let managedPolicyArn = '';
let firstStateVersion = '';

function clients(credentials: { accessKeyId: string; secretAccessKey: string }) {
  const base = { endpoint: moto.endpoint, region: 'us-east-1', credentials, maxAttempts: 1 };
  return { s3: new S3Client({ ...base, forcePathStyle: true }), iam: new iam.IAMClient(base), sts: new STSClient(base) };
}

async function userWithPolicy(name: string, policy: object): Promise<{ accessKeyId: string; secretAccessKey: string }> {
  await admin.iam.send(new iam.CreateUserCommand({ UserName: name }));
  await admin.iam.send(new iam.PutUserPolicyCommand({ UserName: name, PolicyName: 'policy', PolicyDocument: JSON.stringify(policy) }));
  const key = (await admin.iam.send(new iam.CreateAccessKeyCommand({ UserName: name }))).AccessKey!;
  return { accessKeyId: key.AccessKeyId!, secretAccessKey: key.SecretAccessKey! };
}

async function denied(call: () => Promise<unknown>): Promise<string> {
  try {
    await call();
  } catch (error) {
    return (error as { name?: string }).name ?? String(error);
  }
  return 'allowed';
}

/** One exercise per enforceable table call, each through the bot's policy. */
const EXERCISES: Record<string, () => Promise<unknown>> = {
  's3 GetObject': async () => {
    await bot.s3.send(new s3.GetObjectCommand({ Bucket: STATE.bucket, Key: STATE.key }));
    await bot.s3.send(new s3.GetObjectCommand({ Bucket: STATE.bucket, Key: `${STATE.key}.tflock` }));
    await bot.s3.send(new s3.GetObjectCommand({ Bucket: BACKUPS, Key: 'db/first.dump' }));
  },
  's3 PutObject': () => bot.s3.send(new PutObjectCommand({ Bucket: STATE.bucket, Key: `${STATE.key}.tflock`, Body: '{}' })),
  's3 DeleteObject': async () => {
    await bot.s3.send(new s3.DeleteObjectCommand({ Bucket: STATE.bucket, Key: `${STATE.key}.tflock` }));
    await bot.s3.send(new s3.DeleteObjectCommand({ Bucket: BACKUPS, Key: 'db/copy.dump' }));
  },
  's3 GetBucketVersioning': () => bot.s3.send(new s3.GetBucketVersioningCommand({ Bucket: STATE.bucket })),
  // moto miscomputes the signature of S3 requests whose query string holds an encoded "/", so the
  // listings use a prefix without one; the grant (on the bucket) is judged the same way.
  's3 ListObjectVersions': () => bot.s3.send(new s3.ListObjectVersionsCommand({ Bucket: STATE.bucket, Prefix: 'autostack' })),
  's3 HeadObject': async () => {
    await bot.s3.send(new s3.HeadObjectCommand({ Bucket: STATE.bucket, Key: STATE.key }));
    await bot.s3.send(new s3.HeadObjectCommand({ Bucket: BACKUPS, Key: 'db/first.dump' }));
  },
  's3 CopyObject': async () => {
    // tf restore: an older version copied over the current state.
    await bot.s3.send(new CopyObjectCommand({ Bucket: STATE.bucket, Key: STATE.key, CopySource: `${STATE.bucket}/${STATE.key}?versionId=${firstStateVersion}` }));
    await bot.s3.send(new CopyObjectCommand({ Bucket: BACKUPS, Key: 'db/copy.dump', CopySource: `${BACKUPS}/db/first.dump` }));
  },
  's3 Upload': () => new Upload({ client: bot.s3, params: { Bucket: BACKUPS, Key: 'db/uploaded.dump', Body: 'dump' } }).done(),
  's3 ListObjectsV2': () => bot.s3.send(new s3.ListObjectsV2Command({ Bucket: BACKUPS, Prefix: 'db' })),
  's3 GetObjectTagging': () => bot.s3.send(new s3.GetObjectTaggingCommand({ Bucket: BACKUPS, Key: 'db/first.dump' })),
  's3 PutObjectTagging': () => bot.s3.send(new s3.PutObjectTaggingCommand({ Bucket: BACKUPS, Key: 'db/first.dump', Tagging: { TagSet: [{ Key: 'verified', Value: 'yes' }] } })),
  's3 CreateMultipartUpload': () => bot.s3.send(new s3.CreateMultipartUploadCommand({ Bucket: BACKUPS, Key: 'db/multipart.dump' })),
  's3 UploadPartCopy': async () => {
    const { UploadId } = await bot.s3.send(new s3.CreateMultipartUploadCommand({ Bucket: BACKUPS, Key: 'db/parts.dump' }));
    const part = await bot.s3.send(new s3.UploadPartCopyCommand({ Bucket: BACKUPS, Key: 'db/parts.dump', UploadId, PartNumber: 1, CopySource: `${BACKUPS}/db/first.dump` }));
    await bot.s3.send(
      new s3.CompleteMultipartUploadCommand({ Bucket: BACKUPS, Key: 'db/parts.dump', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.CopyPartResult!.ETag }] } }),
    );
  },
  's3 CompleteMultipartUpload': () => EXERCISES['s3 UploadPartCopy']!(),
  's3 ListMultipartUploads': () => bot.s3.send(new s3.ListMultipartUploadsCommand({ Bucket: BACKUPS, Prefix: 'db' })),
  's3 AbortMultipartUpload': async () => {
    const { UploadId } = await bot.s3.send(new s3.CreateMultipartUploadCommand({ Bucket: BACKUPS, Key: 'db/aborted.dump' }));
    await bot.s3.send(new s3.AbortMultipartUploadCommand({ Bucket: BACKUPS, Key: 'db/aborted.dump', UploadId }));
  },
  's3 DeleteObjects': () => bot.s3.send(new s3.DeleteObjectsCommand({ Bucket: BACKUPS, Delete: { Objects: [{ Key: 'db/uploaded.dump' }] } })),
  'iam GetRole': () => bot.iam.send(new iam.GetRoleCommand({ RoleName: ROLE })),
  'iam paginateListRolePolicies': () => bot.iam.send(new iam.ListRolePoliciesCommand({ RoleName: ROLE })),
  'iam GetRolePolicy': () => bot.iam.send(new iam.GetRolePolicyCommand({ RoleName: ROLE, PolicyName: 'AutoStackMinimalPolicy' })),
  'iam paginateListAttachedRolePolicies': () => bot.iam.send(new iam.ListAttachedRolePoliciesCommand({ RoleName: ROLE })),
  'iam paginateListInstanceProfilesForRole': () => bot.iam.send(new iam.ListInstanceProfilesForRoleCommand({ RoleName: ROLE })),
  'iam UpdateAssumeRolePolicy': () => bot.iam.send(new iam.UpdateAssumeRolePolicyCommand({ RoleName: ROLE, PolicyDocument: trust })),
  'iam PutRolePolicy': () => bot.iam.send(new iam.PutRolePolicyCommand({ RoleName: ROLE, PolicyName: 'Extra', PolicyDocument: inline })),
  'iam DeleteRolePolicy': () => bot.iam.send(new iam.DeleteRolePolicyCommand({ RoleName: `${ROLE}V2`, PolicyName: 'AutoStackMinimalPolicy' })),
  'iam AttachRolePolicy': () => bot.iam.send(new iam.AttachRolePolicyCommand({ RoleName: ROLE, PolicyArn: managedPolicyArn })),
  'iam DetachRolePolicy': () => bot.iam.send(new iam.DetachRolePolicyCommand({ RoleName: ROLE, PolicyArn: managedPolicyArn })),
  'iam DeleteRole': () => bot.iam.send(new iam.DeleteRoleCommand({ RoleName: `${ROLE}V2` })),
  'sts AssumeRole': () => assumer.send(new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::123456789012:role/AutoStackChatOps', RoleSessionName: 'autostack-U012' })),
};

const trust = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::123456789012:root' }, Action: 'sts:AssumeRole' }] });
const inline = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::autostack-tfstate/*' }] });

describe('the generated IAM policy, enforced by moto', () => {
  beforeAll(async () => {
    moto = await startMoto();
    admin = clients({ accessKeyId: 'test', secretAccessKey: 'test' });
    for (const bucket of [STATE.bucket, BACKUPS, 'someone-elses']) await admin.s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await admin.s3.send(new PutBucketVersioningCommand({ Bucket: STATE.bucket, VersioningConfiguration: { Status: 'Enabled' } }));
    firstStateVersion = (await admin.s3.send(new PutObjectCommand({ Bucket: STATE.bucket, Key: STATE.key, Body: '{"version":4,"serial":1}' }))).VersionId!;
    await admin.s3.send(new PutObjectCommand({ Bucket: STATE.bucket, Key: STATE.key, Body: '{"version":4,"serial":2}' }));
    await admin.s3.send(new PutObjectCommand({ Bucket: STATE.bucket, Key: `${STATE.key}.tflock`, Body: '{}' }));
    await admin.s3.send(new PutObjectCommand({ Bucket: BACKUPS, Key: 'db/first.dump', Body: 'x'.repeat(6 * 1024 * 1024) }));
    await admin.s3.send(new PutObjectCommand({ Bucket: 'someone-elses', Key: 'secret.txt', Body: 'no' }));
    for (const role of [ROLE, `${ROLE}V2`, 'SomeoneElsesRole']) {
      await admin.iam.send(new iam.CreateRoleCommand({ RoleName: role, AssumeRolePolicyDocument: trust }));
    }
    // The role the bot assumes trusts the bot's identity (moto matches principals by exact ARN).
    const trustsAssumer = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::123456789012:user/autostack-bot-assumer' }, Action: 'sts:AssumeRole' }] });
    await admin.iam.send(new iam.CreateRoleCommand({ RoleName: 'AutoStackChatOps', AssumeRolePolicyDocument: trustsAssumer }));
    await admin.iam.send(new iam.PutRolePolicyCommand({ RoleName: ROLE, PolicyName: 'AutoStackMinimalPolicy', PolicyDocument: inline }));
    await admin.iam.send(new iam.PutRolePolicyCommand({ RoleName: `${ROLE}V2`, PolicyName: 'AutoStackMinimalPolicy', PolicyDocument: inline }));
    managedPolicyArn = (await admin.iam.send(new iam.CreatePolicyCommand({ PolicyName: 'AutoStackReadOnly', PolicyDocument: inline }))).Policy!.Arn!;
    bot = clients(await userWithPolicy('autostack-bot', iamPolicies(config).botPolicy));
    const assuming = parseConfig({ aws: { assumeRoleArn: 'arn:aws:iam::123456789012:role/AutoStackChatOps' } });
    assumer = clients(await userWithPolicy('autostack-bot-assumer', iamPolicies(assuming).botPolicy)).sts;
    // From here on, every request is authenticated and authorized.
    const reset = await fetch(`${moto.endpoint}/moto-api/reset-auth`, { method: 'POST', body: '0' });
    expect(reset.status).toBe(200);
  }, 120_000);

  afterAll(async () => {
    await moto?.stop();
  });

  it('covers every call of the permission table: exercised, or named with the reason moto cannot judge it', () => {
    const calls = [...new Set(AWS_CALLS.map((row) => `${row.service} ${row.call}`))].sort();
    const accounted = [...Object.keys(EXERCISES), ...Object.keys(NOT_ENFORCED)].sort();
    expect(accounted).toEqual(calls);
  });

  it('allows every enforceable call the code makes, on the resources the configuration names', async () => {
    const failures: string[] = [];
    for (const [call, exercise] of Object.entries(EXERCISES)) {
      const outcome = await denied(exercise);
      if (outcome !== 'allowed') failures.push(`${call}: ${outcome}`);
    }
    expect(failures).toEqual([]);
  });

  it('refuses what the policy does not grant: other buckets, keys outside the prefix, other roles, other actions', async () => {
    expect(await denied(() => bot.s3.send(new s3.GetObjectCommand({ Bucket: 'someone-elses', Key: 'secret.txt' })))).toBe('AccessDenied');
    expect(await denied(() => bot.s3.send(new PutObjectCommand({ Bucket: BACKUPS, Key: 'elsewhere/x', Body: 'x' })))).toBe('AccessDenied');
    expect(await denied(() => bot.s3.send(new s3.DeleteBucketCommand({ Bucket: BACKUPS })))).toBe('AccessDenied');
    expect(await denied(() => bot.iam.send(new iam.GetRoleCommand({ RoleName: 'SomeoneElsesRole' })))).toMatch(/AccessDenied/);
    expect(await denied(() => bot.iam.send(new iam.DeleteRoleCommand({ RoleName: 'SomeoneElsesRole' })))).toMatch(/AccessDenied/);
    expect(await denied(() => bot.iam.send(new iam.ListUsersCommand({})))).toMatch(/AccessDenied/);
    expect(await denied(() => assumer.send(new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::123456789012:role/SomeoneElsesRole', RoleSessionName: 'x' })))).toMatch(/AccessDenied/);
    // The assuming identity holds nothing but sts:AssumeRole.
    const assumerS3 = new S3Client({ endpoint: moto.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: await assumer.config.credentials() });
    expect(await denied(() => assumerS3.send(new s3.GetObjectCommand({ Bucket: STATE.bucket, Key: STATE.key })))).toBe('AccessDenied');
  });
});
