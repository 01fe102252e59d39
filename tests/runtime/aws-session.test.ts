/** AWS calls made for a person run under a role session named after that Slack user. */
import { createServer } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { CreateRoleCommand } from '@aws-sdk/client-iam';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { createAwsClientFactory } from '../../src/clients.ts';
import { awsClients, testServices, uniqueName } from '../harness/env.ts';

describe('per-person AWS sessions', () => {
  it('assumes the configured role with a session named after the Slack user', async () => {
    const roleName = uniqueName('chatops');
    const { iam } = awsClients();
    const created = await iam.send(new CreateRoleCommand({ RoleName: roleName, AssumeRolePolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::123456789012:root' }, Action: 'sts:AssumeRole' }] }) }));
    const aws = createAwsClientFactory({ endpoint: testServices().awsEndpoint, region: 'us-east-1', s3ForcePathStyle: true, assumeRoleArn: created.Role!.Arn! });
    const alice = await aws('U0ALICE').sts.send(new GetCallerIdentityCommand({}));
    expect(alice.Arn).toBe(`arn:aws:sts::123456789012:assumed-role/${roleName}/autostack-U0ALICE`);
    const bob = await aws('U0BOB').sts.send(new GetCallerIdentityCommand({}));
    expect(bob.Arn).toMatch(/\/autostack-U0BOB$/);
    // The same person reuses their clients (and cached credentials).
    expect(aws('U0ALICE')).toBe(aws('U0ALICE'));
  });

  it('sends binary S3 bodies unsigned but with a CRC32 checksum, and S3 takes them', async () => {
    // What goes on the wire: a server that records the request's headers.
    const seen: IncomingHttpHeaders[] = [];
    const server = createServer((request, response) => {
      seen.push(request.headers);
      request.resume();
      request.on('end', () => response.writeHead(200, { ETag: '"x"' }).end());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const recorded = createAwsClientFactory({ endpoint, region: 'us-east-1', s3ForcePathStyle: true })('U0ALICE').s3;
      await recorded.send(new PutObjectCommand({ Bucket: 'backups', Key: 'part', Body: Buffer.alloc(1 << 20, 7) }));
      await recorded.send(new PutObjectCommand({ Bucket: 'backups', Key: 'text', Body: 'small text body' }));
    } finally {
      server.close();
    }
    expect(seen[0]!['x-amz-content-sha256']).toBe('UNSIGNED-PAYLOAD');
    expect(seen[0]!['x-amz-checksum-crc32']).toMatch(/^[A-Za-z0-9+/]{6}==$/);
    expect(seen[0]!.authorization).toContain('x-amz-content-sha256');
    // A text body is still signed with its hash.
    expect(seen[1]!['x-amz-content-sha256']).toMatch(/^[0-9a-f]{64}$/);
    // And S3 (moto) accepts and stores such a body intact.
    const s3 = createAwsClientFactory({ endpoint: testServices().awsEndpoint, region: 'us-east-1', s3ForcePathStyle: true })('U0ALICE').s3;
    const bucket = uniqueName('unsigned');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const body = Buffer.from(Array.from({ length: 1 << 20 }, (_, i) => (i * 31) & 0xff));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'part', Body: body }));
    const stored = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'part' }));
    expect(Buffer.from(await stored.Body!.transformToByteArray()).equals(body)).toBe(true);
  });

  it('uses the default credential chain when no role is configured', async () => {
    const aws = createAwsClientFactory({ endpoint: testServices().awsEndpoint, region: 'us-east-1', s3ForcePathStyle: true });
    const identity = await aws('U0ALICE').sts.send(new GetCallerIdentityCommand({}));
    expect(identity.Arn).not.toContain('assumed-role');
  });
});
