import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { arnMatches, evaluate, evaluateCondition, isAllowed } from '../../commands/iam/evaluator.ts';
import type { NamedPolicy } from '../../commands/iam/evaluator.ts';
import { parsePolicyText } from '../../commands/iam/policy.ts';
import type { PolicyDocument } from '../../commands/iam/policy.ts';

const doc = (...Statement: PolicyDocument['Statement'][]): NamedPolicy[] => [{ name: 'test', document: { Version: '2012-10-17', Statement: Statement.flat() } }];
const minimal: NamedPolicy[] = [{ name: 'AutoStackMinimalPolicy', document: parsePolicyText(readFileSync('policies/minimal-policy.json', 'utf8')) }];

describe('policy evaluator: decisions', () => {
  it('denies by default when nothing matches', () => {
    const result = evaluate(doc({ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::a/*' }), { action: 's3:PutObject', resource: 'arn:aws:s3:::a/k' });
    expect(result.decision).toBe('implicitDeny');
  });

  it('an explicit Deny wins over an Allow, whichever policy or order', () => {
    const allow = { Effect: 'Allow' as const, Action: 's3:*', Resource: '*' };
    const deny = { Sid: 'NoDelete', Effect: 'Deny' as const, Action: 's3:DeleteObject', Resource: 'arn:aws:s3:::state/*' };
    const request = { action: 's3:DeleteObject', resource: 'arn:aws:s3:::state/terraform.tfstate' };
    for (const policies of [doc(allow, deny), doc(deny, allow), [...doc(allow), { name: 'other', document: { Version: '2012-10-17', Statement: [deny] } }]]) {
      const result = evaluate(policies, request);
      expect(result.decision).toBe('explicitDeny');
      expect(result.deniedBy[0]?.sid).toBe('NoDelete');
    }
    // The Deny is scoped: other objects stay allowed.
    expect(isAllowed(doc(allow, deny), { action: 's3:DeleteObject', resource: 'arn:aws:s3:::other/x' })).toBe(true);
  });

  it('matches actions case-insensitively with * and ? wildcards', () => {
    const policies = doc({ Effect: 'Allow', Action: ['S3:get*', 'dynamodb:?etItem'], Resource: '*' });
    expect(isAllowed(policies, { action: 's3:GetObjectVersion', resource: 'arn:aws:s3:::b/k' })).toBe(true);
    expect(isAllowed(policies, { action: 'dynamodb:GetItem', resource: 'arn:aws:dynamodb:us-east-1:1:table/t' })).toBe(true);
    expect(isAllowed(policies, { action: 'dynamodb:SetItem', resource: 'arn:aws:dynamodb:us-east-1:1:table/t' })).toBe(true);
    expect(isAllowed(policies, { action: 'dynamodb:PutItem', resource: 'arn:aws:dynamodb:us-east-1:1:table/t' })).toBe(false);
    expect(isAllowed(policies, { action: 's3:PutObject', resource: 'arn:aws:s3:::b/k' })).toBe(false);
  });

  it('matches resources case-sensitively, per ARN segment', () => {
    const policies = doc({ Effect: 'Allow', Action: 'iam:GetRole', Resource: 'arn:aws:iam::*:role/autostack-*' });
    expect(isAllowed(policies, { action: 'iam:GetRole', resource: 'arn:aws:iam::123456789012:role/autostack-nodes' })).toBe(true);
    expect(isAllowed(policies, { action: 'iam:GetRole', resource: 'arn:aws:iam::123456789012:role/AutoStackTerraformRole' })).toBe(false);
    expect(isAllowed(policies, { action: 'iam:GetRole', resource: 'arn:aws:iam::123456789012:role/Autostack-nodes' })).toBe(false);
    // A wildcard in one part does not match across the colons of another.
    expect(arnMatches('arn:aws:dynamodb:*:*:table/*', 'arn:aws:dynamodb:us-east-1:123456789012:index/table/x')).toBe(false);
    expect(arnMatches('arn:aws:dynamodb:*:*:table/x', 'arn:aws:dynamodb:us-east-1:123456789012:table/x')).toBe(true);
    expect(arnMatches('arn:aws:s3:::bucket-?', 'arn:aws:s3:::bucket-1')).toBe(true);
    expect(arnMatches('arn:aws:s3:::bucket-?', 'arn:aws:s3:::bucket-12')).toBe(false);
    // A bucket pattern does not cover its objects, nor the other way round.
    expect(arnMatches('arn:aws:s3:::autostack-tfstate', 'arn:aws:s3:::autostack-tfstate/key')).toBe(false);
    expect(arnMatches('arn:aws:s3:::autostack-tfstate/*', 'arn:aws:s3:::autostack-tfstate')).toBe(false);
  });

  it('NotAction allows everything except the listed actions', () => {
    const policies = doc({ Effect: 'Allow', NotAction: ['iam:*', 'sts:*'], Resource: '*' });
    expect(isAllowed(policies, { action: 's3:GetObject', resource: 'arn:aws:s3:::b/k' })).toBe(true);
    expect(isAllowed(policies, { action: 'iam:CreateRole', resource: 'arn:aws:iam::1:role/x' })).toBe(false);
    expect(isAllowed(policies, { action: 'STS:AssumeRole', resource: 'arn:aws:iam::1:role/x' })).toBe(false);
  });

  it('a Deny with NotAction denies everything else', () => {
    const policies = doc({ Effect: 'Allow', Action: '*', Resource: '*' }, { Effect: 'Deny', NotAction: 's3:GetObject', Resource: '*' });
    expect(isAllowed(policies, { action: 's3:GetObject', resource: 'arn:aws:s3:::b/k' })).toBe(true);
    expect(evaluate(policies, { action: 's3:PutObject', resource: 'arn:aws:s3:::b/k' }).decision).toBe('explicitDeny');
  });

  it('NotResource matches every resource except the listed ones', () => {
    const policies = doc(
      { Effect: 'Allow', Action: 's3:*', Resource: '*' },
      { Effect: 'Deny', Action: 's3:*', NotResource: ['arn:aws:s3:::autostack-tfstate', 'arn:aws:s3:::autostack-tfstate/*'] },
    );
    expect(isAllowed(policies, { action: 's3:GetObject', resource: 'arn:aws:s3:::autostack-tfstate/autostack/terraform.tfstate' })).toBe(true);
    expect(evaluate(policies, { action: 's3:GetObject', resource: 'arn:aws:s3:::someone-else/x' }).decision).toBe('explicitDeny');
  });

  it('substitutes policy variables in resources (2012-10-17 only)', () => {
    const statement = { Effect: 'Allow' as const, Action: 's3:GetObject', Resource: 'arn:aws:s3:::home/${aws:username}/*' };
    const policies = doc(statement);
    expect(isAllowed(policies, { action: 's3:GetObject', resource: 'arn:aws:s3:::home/alice/x', context: { 'aws:username': 'alice' } })).toBe(true);
    expect(isAllowed(policies, { action: 's3:GetObject', resource: 'arn:aws:s3:::home/bob/x', context: { 'aws:username': 'alice' } })).toBe(false);
    // Without the key in the request the statement matches nothing.
    expect(isAllowed(policies, { action: 's3:GetObject', resource: 'arn:aws:s3:::home/alice/x' })).toBe(false);
    // Old policy language: ${...} is literal text.
    const old: NamedPolicy[] = [{ name: 'old', document: { Version: '2008-10-17', Statement: [statement] } }];
    expect(isAllowed(old, { action: 's3:GetObject', resource: 'arn:aws:s3:::home/${aws:username}/x', context: { 'aws:username': 'alice' } })).toBe(true);
  });
});

describe('policy evaluator: conditions', () => {
  const ctx = (context: Record<string, string | string[] | boolean | number>) => context;

  it('StringEquals / StringNotEquals, with missing keys', () => {
    const eq = { StringEquals: { 'aws:RequestedRegion': ['us-east-1', 'us-west-2'] } };
    expect(evaluateCondition(eq, ctx({ 'aws:RequestedRegion': 'us-west-2' })).kind).toBe('true');
    expect(evaluateCondition(eq, ctx({ 'aws:RequestedRegion': 'eu-west-1' })).kind).toBe('false');
    expect(evaluateCondition(eq, ctx({})).kind).toBe('false');
    // Condition keys are case-insensitive, values are not.
    expect(evaluateCondition(eq, ctx({ 'AWS:requestedregion': 'us-east-1' })).kind).toBe('true');
    expect(evaluateCondition(eq, ctx({ 'aws:RequestedRegion': 'US-EAST-1' })).kind).toBe('false');
    const ne = { StringNotEquals: { 'aws:RequestedRegion': ['us-east-1', 'us-west-2'] } };
    expect(evaluateCondition(ne, ctx({ 'aws:RequestedRegion': 'eu-west-1' })).kind).toBe('true');
    expect(evaluateCondition(ne, ctx({ 'aws:RequestedRegion': 'us-east-1' })).kind).toBe('false');
    // A negated operator is true when the key is absent.
    expect(evaluateCondition(ne, ctx({})).kind).toBe('true');
  });

  it('StringLike / StringNotLike with wildcards', () => {
    const like = { StringLike: { 's3:prefix': ['autostack/*', 'home/?'] } };
    expect(evaluateCondition(like, ctx({ 's3:prefix': 'autostack/terraform.tfstate' })).kind).toBe('true');
    expect(evaluateCondition(like, ctx({ 's3:prefix': 'home/a' })).kind).toBe('true');
    expect(evaluateCondition(like, ctx({ 's3:prefix': 'home/ab' })).kind).toBe('false');
    const notLike = { StringNotLike: { 's3:prefix': 'secret/*' } };
    expect(evaluateCondition(notLike, ctx({ 's3:prefix': 'secret/x' })).kind).toBe('false');
    expect(evaluateCondition(notLike, ctx({ 's3:prefix': 'public/x' })).kind).toBe('true');
  });

  it('ArnLike and ArnEquals compare per ARN part', () => {
    const arnLike = { ArnLike: { 'aws:PrincipalArn': 'arn:aws:iam::*:role/AutoStack*' } };
    expect(evaluateCondition(arnLike, ctx({ 'aws:PrincipalArn': 'arn:aws:iam::123456789012:role/AutoStackTerraformRole' })).kind).toBe('true');
    expect(evaluateCondition(arnLike, ctx({ 'aws:PrincipalArn': 'arn:aws:iam::123456789012:user/AutoStack' })).kind).toBe('false');
    const arnEquals = { ArnEquals: { 'aws:SourceArn': 'arn:aws:s3:::bucket' } };
    expect(evaluateCondition(arnEquals, ctx({ 'aws:SourceArn': 'arn:aws:s3:::bucket' })).kind).toBe('true');
    expect(evaluateCondition(arnEquals, ctx({ 'aws:SourceArn': 'arn:aws:s3:::bucket2' })).kind).toBe('false');
    expect(evaluateCondition({ ArnNotLike: { 'aws:SourceArn': 'arn:aws:s3:::b*' } }, ctx({ 'aws:SourceArn': 'arn:aws:s3:::a' })).kind).toBe('true');
  });

  it('Bool, Numeric and Date operators', () => {
    expect(evaluateCondition({ Bool: { 'aws:SecureTransport': 'false' } }, ctx({ 'aws:SecureTransport': true })).kind).toBe('false');
    expect(evaluateCondition({ Bool: { 'aws:SecureTransport': 'true' } }, ctx({ 'aws:SecureTransport': 'true' })).kind).toBe('true');
    expect(evaluateCondition({ Bool: { 'aws:MultiFactorAuthPresent': 'true' } }, ctx({})).kind).toBe('false');
    expect(evaluateCondition({ NumericLessThanEquals: { 's3:max-keys': '10' } }, ctx({ 's3:max-keys': 10 })).kind).toBe('true');
    expect(evaluateCondition({ NumericLessThan: { 's3:max-keys': '10' } }, ctx({ 's3:max-keys': '10' })).kind).toBe('false');
    expect(evaluateCondition({ NumericGreaterThan: { 'aws:MultiFactorAuthAge': 3600 } }, ctx({ 'aws:MultiFactorAuthAge': '7200' })).kind).toBe('true');
    expect(evaluateCondition({ NumericEquals: { 'x:n': 'abc' } }, ctx({ 'x:n': 'abc' })).kind).toBe('false');
    expect(evaluateCondition({ NumericNotEquals: { 'x:n': '5' } }, ctx({ 'x:n': '6' })).kind).toBe('true');
    expect(evaluateCondition({ DateLessThan: { 'aws:CurrentTime': '2026-01-01T00:00:00Z' } }, ctx({ 'aws:CurrentTime': '2025-11-10T03:00:00Z' })).kind).toBe('true');
    expect(evaluateCondition({ DateGreaterThan: { 'aws:CurrentTime': '2026-01-01T00:00:00Z' } }, ctx({ 'aws:CurrentTime': '2025-11-10T03:00:00Z' })).kind).toBe('false');
  });

  it('IpAddress / NotIpAddress with CIDR ranges', () => {
    const ip = { IpAddress: { 'aws:SourceIp': ['203.0.113.0/24', '2001:db8::/32'] } };
    expect(evaluateCondition(ip, ctx({ 'aws:SourceIp': '203.0.113.7' })).kind).toBe('true');
    expect(evaluateCondition(ip, ctx({ 'aws:SourceIp': '198.51.100.7' })).kind).toBe('false');
    expect(evaluateCondition(ip, ctx({ 'aws:SourceIp': '2001:db8::1' })).kind).toBe('true');
    expect(evaluateCondition(ip, ctx({})).kind).toBe('false');
    expect(evaluateCondition({ NotIpAddress: { 'aws:SourceIp': '10.0.0.0/8' } }, ctx({ 'aws:SourceIp': '10.1.2.3' })).kind).toBe('false');
    expect(evaluateCondition({ NotIpAddress: { 'aws:SourceIp': '10.0.0.0/8' } }, ctx({ 'aws:SourceIp': '192.0.2.1' })).kind).toBe('true');
  });

  it('...IfExists is true when the key is absent and checked when present', () => {
    const cond = { StringEqualsIfExists: { 'aws:RequestedRegion': 'us-east-1' } };
    expect(evaluateCondition(cond, ctx({})).kind).toBe('true');
    expect(evaluateCondition(cond, ctx({ 'aws:RequestedRegion': 'us-east-1' })).kind).toBe('true');
    expect(evaluateCondition(cond, ctx({ 'aws:RequestedRegion': 'eu-west-1' })).kind).toBe('false');
  });

  it('ForAllValues / ForAnyValue on multi-valued keys', () => {
    const all = { 'ForAllValues:StringEquals': { 'aws:TagKeys': ['team', 'env'] } };
    expect(evaluateCondition(all, ctx({ 'aws:TagKeys': ['team'] })).kind).toBe('true');
    expect(evaluateCondition(all, ctx({ 'aws:TagKeys': ['team', 'owner'] })).kind).toBe('false');
    // ForAllValues is true for a missing or empty key; ForAnyValue is false.
    expect(evaluateCondition(all, ctx({})).kind).toBe('true');
    const any = { 'ForAnyValue:StringLike': { 'aws:TagKeys': ['sec*'] } };
    expect(evaluateCondition(any, ctx({ 'aws:TagKeys': ['team', 'security'] })).kind).toBe('true');
    expect(evaluateCondition(any, ctx({ 'aws:TagKeys': ['team'] })).kind).toBe('false');
    expect(evaluateCondition(any, ctx({})).kind).toBe('false');
    expect(evaluateCondition({ 'ForAnyValue:StringNotEquals': { 'aws:TagKeys': 'team' } }, ctx({ 'aws:TagKeys': ['team', 'x'] })).kind).toBe('true');
    expect(evaluateCondition({ 'ForAllValues:StringNotEquals': { 'aws:TagKeys': 'team' } }, ctx({ 'aws:TagKeys': ['team', 'x'] })).kind).toBe('false');
  });

  it('Null checks presence', () => {
    expect(evaluateCondition({ Null: { 'aws:TokenIssueTime': 'true' } }, ctx({})).kind).toBe('true');
    expect(evaluateCondition({ Null: { 'aws:TokenIssueTime': 'true' } }, ctx({ 'aws:TokenIssueTime': '2025-01-01T00:00:00Z' })).kind).toBe('false');
    expect(evaluateCondition({ Null: { 'aws:TokenIssueTime': 'false' } }, ctx({ 'aws:TokenIssueTime': '2025-01-01T00:00:00Z' })).kind).toBe('true');
  });

  it('all operators and keys must hold (AND), values of one key are alternatives (OR)', () => {
    const cond = { StringEquals: { 'aws:RequestedRegion': ['us-east-1', 'us-west-2'], 'aws:PrincipalAccount': '123456789012' }, Bool: { 'aws:SecureTransport': 'true' } };
    expect(evaluateCondition(cond, ctx({ 'aws:RequestedRegion': 'us-west-2', 'aws:PrincipalAccount': '123456789012', 'aws:SecureTransport': true })).kind).toBe('true');
    expect(evaluateCondition(cond, ctx({ 'aws:RequestedRegion': 'us-west-2', 'aws:PrincipalAccount': '999999999999', 'aws:SecureTransport': true })).kind).toBe('false');
    expect(evaluateCondition(cond, ctx({ 'aws:RequestedRegion': 'us-west-2', 'aws:PrincipalAccount': '123456789012', 'aws:SecureTransport': false })).kind).toBe('false');
  });

  it('an Allow with a condition it cannot decide does not allow; such a Deny denies', () => {
    const weird = { Effect: 'Allow' as const, Action: '*', Resource: '*', Condition: { StringSomething: { 'a:b': 'c' } } };
    const result = evaluate(doc(weird), { action: 's3:GetObject', resource: 'arn:aws:s3:::b/k' });
    expect(result.decision).toBe('implicitDeny');
    expect(result.notes[0]).toContain('StringSomething');
    const deny = evaluate(doc({ Effect: 'Allow', Action: '*', Resource: '*' }, { ...weird, Effect: 'Deny' }), { action: 's3:GetObject', resource: 'arn:aws:s3:::b/k' });
    expect(deny.decision).toBe('explicitDeny');
  });

  it('a Deny conditioned on region beats an Allow only outside the listed regions', () => {
    const policies = doc(
      { Effect: 'Allow', Action: 'ec2:*', Resource: '*' },
      { Sid: 'OnlyUs', Effect: 'Deny', Action: '*', Resource: '*', Condition: { StringNotEquals: { 'aws:RequestedRegion': ['us-east-1'] } } },
    );
    expect(isAllowed(policies, { action: 'ec2:CreateVpc', resource: '*', context: { 'aws:RequestedRegion': 'us-east-1' } })).toBe(true);
    expect(evaluate(policies, { action: 'ec2:CreateVpc', resource: '*', context: { 'aws:RequestedRegion': 'eu-west-1' } }).deniedBy[0]?.sid).toBe('OnlyUs');
  });
});

describe('policy evaluator: the runbook minimal policy', () => {
  const ok = (action: string, resource: string, context: Record<string, string> = {}) => isAllowed(minimal, { action, resource, context });

  it('ec2:CreateVpc is allowed in us-east-1 and us-west-2 but not in eu-west-1', () => {
    expect(ok('ec2:CreateVpc', '*', { 'aws:RequestedRegion': 'us-east-1' })).toBe(true);
    expect(ok('ec2:CreateVpc', '*', { 'aws:RequestedRegion': 'us-west-2' })).toBe(true);
    expect(ok('ec2:CreateVpc', '*', { 'aws:RequestedRegion': 'eu-west-1' })).toBe(false);
    expect(ok('ec2:CreateVpc', '*')).toBe(false);
    expect(evaluate(minimal, { action: 'ec2:CreateVpc', resource: '*', context: { 'aws:RequestedRegion': 'us-east-1' } }).allowedBy[0]?.sid).toBe('EC2NetworkingForEKS');
  });

  it('covers the Terraform state and lock table', () => {
    expect(ok('s3:GetObject', 'arn:aws:s3:::autostack-tfstate/autostack/terraform.tfstate')).toBe(true);
    expect(ok('s3:PutObject', 'arn:aws:s3:::autostack-tfstate/autostack/terraform.tfstate.tflock')).toBe(true);
    expect(ok('s3:ListBucket', 'arn:aws:s3:::autostack-tfstate')).toBe(true);
    expect(ok('dynamodb:DeleteItem', 'arn:aws:dynamodb:us-east-1:123456789012:table/autostack-tf-locks')).toBe(true);
    expect(ok('s3:GetObject', 'arn:aws:s3:::autostack-backups/db/x')).toBe(false);
  });

  it('misses steps the runbook itself takes', () => {
    // aws dynamodb scan (Terraform State Locked, step 1)
    expect(ok('dynamodb:Scan', 'arn:aws:dynamodb:us-east-1:123456789012:table/autostack-tf-locks')).toBe(false);
    // aws s3api list-object-versions / get-object --version-id (Restore Previous State)
    expect(ok('s3:ListBucketVersions', 'arn:aws:s3:::autostack-tfstate')).toBe(false);
    expect(ok('s3:GetObjectVersion', 'arn:aws:s3:::autostack-tfstate/autostack/terraform.tfstate')).toBe(false);
    // aws iam put-role-policy (IAM Setup 2): only AttachRolePolicy is granted, and only on autostack-* roles
    expect(ok('iam:PutRolePolicy', 'arn:aws:iam::123456789012:role/autostack-nodes')).toBe(false);
    expect(ok('iam:AttachRolePolicy', 'arn:aws:iam::123456789012:role/autostack-nodes')).toBe(true);
    expect(ok('iam:GetRole', 'arn:aws:iam::123456789012:role/AutoStackTerraformRole')).toBe(false);
  });
});
