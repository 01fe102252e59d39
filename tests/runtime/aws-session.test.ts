/** AWS calls made for a person run under a role session named after that Slack user. */
import { describe, expect, it } from 'vitest';
import { CreateRoleCommand } from '@aws-sdk/client-iam';
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

  it('uses the default credential chain when no role is configured', async () => {
    const aws = createAwsClientFactory({ endpoint: testServices().awsEndpoint, region: 'us-east-1', s3ForcePathStyle: true });
    const identity = await aws('U0ALICE').sts.send(new GetCallerIdentityCommand({}));
    expect(identity.Arn).not.toContain('assumed-role');
  });
});
