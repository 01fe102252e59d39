import { describe, expect, it } from 'vitest';
import { GetRoleCommand, GetRolePolicyCommand, ListRolePoliciesCommand, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { UsageError, UserFacingError } from '../../src/core/types.ts';
import { applySetup, inspectSetup, loadPolicyFile, parsePrincipals, setupPlan, validateRoleName } from '../../commands/iam/setup.ts';
import type { SetupParams } from '../../commands/iam/setup.ts';
import { decodePolicyDocument } from '../../commands/iam/policy.ts';
import { runRoleCheck } from '../../commands/iam/inspect.ts';
import { awsClients, uniqueName } from '../harness/env.ts';
import { ACCOUNT, iamConfig, iamDenying, minimalPolicy, policiesFolder, writePolicy } from './helpers.ts';

const aws = awsClients();
const OPERATOR = `arn:aws:iam::${ACCOUNT}:root`;
const OTHER = `arn:aws:iam::${ACCOUNT}:user/terraform-ci`;

function world() {
  const role = `AutoStack${uniqueName('r')}`;
  const dir = policiesFolder();
  const config = iamConfig({ roleName: role, policyDir: dir });
  const params = (over: Partial<SetupParams> = {}): SetupParams => ({
    role,
    principals: [OPERATOR],
    policyName: 'AutoStackMinimalPolicy',
    policyFile: config.iam.policyFile,
    replaceTrust: false,
    addMissing: false,
    ...over,
  });
  return { role, dir, config, params };
}

async function inlinePolicy(role: string, name: string): Promise<unknown> {
  const out = await aws.iam.send(new GetRolePolicyCommand({ RoleName: role, PolicyName: name }));
  return decodePolicyDocument(out.PolicyDocument!);
}

async function trust(role: string): Promise<unknown> {
  const out = await aws.iam.send(new GetRoleCommand({ RoleName: role }));
  return decodePolicyDocument(out.Role!.AssumeRolePolicyDocument!);
}

const lines: string[] = [];
const step = async (text: string) => void lines.push(text);

describe('iam setup: input validation', () => {
  it('accepts IAM role names and refuses others with the rule', () => {
    expect(validateRoleName('AutoStackTerraformRole')).toBe('AutoStackTerraformRole');
    expect(validateRoleName('a+b=c,d.e@f_g-h')).toBe('a+b=c,d.e@f_g-h');
    expect(() => validateRoleName('bad name')).toThrow(UsageError);
    expect(() => validateRoleName('x'.repeat(65))).toThrow(/not a valid IAM role name/);
    expect(() => validateRoleName('role/with/slash')).toThrow(/role-name/);
  });

  it('accepts account, user and role principal ARNs and refuses malformed ones', () => {
    expect(parsePrincipals(`${OPERATOR}, arn:aws:iam::${ACCOUNT}:role/ci/Deployer\narn:aws:iam::${ACCOUNT}:user/alice`)).toEqual([
      OPERATOR,
      `arn:aws:iam::${ACCOUNT}:role/ci/Deployer`,
      `arn:aws:iam::${ACCOUNT}:user/alice`,
    ]);
    for (const bad of ['123456789012', 'arn:aws:iam::12345:root', 'arn:aws:iam::123456789012:group/admins', 'arn:aws:s3:::bucket', 'arn:aws:iam::123456789012:role/']) {
      expect(() => parsePrincipals(bad), bad).toThrow(/principals: .* is not a principal ARN/);
    }
  });

  it('reads policy files only from the policies folder and checks they are policy documents', () => {
    const { config, dir } = world();
    expect(loadPolicyFile(config, 'minimal-policy.json').document.Statement).toHaveLength(11);
    expect(() => loadPolicyFile(config, '../../etc/passwd')).toThrow(/must name a .json file in/);
    expect(() => loadPolicyFile(config, '/etc/hosts.json')).toThrow(/must name a .json file in/);
    expect(() => loadPolicyFile(config, 'missing.json')).toThrow(/does not exist/);
    writePolicy(dir, 'broken.json', '{"Version": "2012-10-17", "Statement": [');
    expect(() => loadPolicyFile(config, 'broken.json')).toThrow(/not valid JSON/);
    writePolicy(dir, 'noversion.json', { Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }] });
    expect(() => loadPolicyFile(config, 'noversion.json')).toThrow(/no "Version"/);
    writePolicy(dir, 'noaction.json', { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Resource: '*' }] });
    expect(() => loadPolicyFile(config, 'noaction.json')).toThrow(/exactly one of "Action" or "NotAction"/);
    writePolicy(dir, 'noresource.json', { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject' }] });
    expect(() => loadPolicyFile(config, 'noresource.json')).toThrow(/needs "Resource" or "NotResource"/);
    writePolicy(dir, 'trust.json', { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: OPERATOR }, Action: 'sts:AssumeRole' }] });
    expect(() => loadPolicyFile(config, 'trust.json')).toThrow(/must not have "Principal"/);
    writePolicy(dir, 'effect.json', { Version: '2012-10-17', Statement: [{ Effect: 'allow', Action: 's3:GetObject', Resource: '*' }] });
    expect(() => loadPolicyFile(config, 'effect.json')).toThrow(/"Effect" must be "Allow" or "Deny"/);
  });
});

describe('iam setup against IAM (moto)', () => {
  it('creates the role with the trust policy and the minimal policy, then reuses it unchanged', async () => {
    const { role, config, params } = world();
    const first = await inspectSetup(aws, config, params());
    expect(first.trust).toBe('create');
    expect(first.policy).toBe('put');
    const plan = setupPlan(first);
    expect(plan.steps[0]).toContain(`aws iam create-role --role-name ${role}`);
    expect(plan.steps[1]).toContain('put-role-policy');
    expect(plan.resources).toEqual([`arn:aws:iam::${ACCOUNT}:role/${role}`]);

    const outcome = await applySetup(aws.iam, first, step);
    expect(outcome.roleArn).toBe(`arn:aws:iam::${ACCOUNT}:role/${role}`);
    expect(outcome.created).toBe(true);
    expect(await inlinePolicy(role, 'AutoStackMinimalPolicy')).toEqual(minimalPolicy());
    expect(await trust(role)).toEqual({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: OPERATOR }, Action: 'sts:AssumeRole' }] });

    // Re-run: same trust policy, same document: nothing changes.
    const again = await inspectSetup(aws, config, params());
    expect(again.trust).toBe('same');
    expect(again.policy).toBe('unchanged');
    expect(setupPlan(again).steps[0]).toContain('Reuse the existing role');
    const second = await applySetup(aws.iam, again, step);
    expect(second).toMatchObject({ roleArn: outcome.roleArn, created: false, policy: 'unchanged' });
  });

  it('refuses a different trust policy with a diff, and replaces it only with --replace-trust', async () => {
    const { role, config, params } = world();
    await applySetup(aws.iam, await inspectSetup(aws, config, params()), step);
    const refused = inspectSetup(aws, config, params({ principals: [OTHER] }));
    await expect(refused).rejects.toBeInstanceOf(UserFacingError);
    await expect(refused).rejects.toThrow(/already exists with a different trust policy; nothing was changed/);
    await expect(refused).rejects.toThrow(new RegExp(`- .*${OPERATOR.replace(/[:/]/g, '.')}`));
    await expect(refused).rejects.toThrow(/--replace-trust/);
    expect(await trust(role)).toMatchObject({ Statement: [{ Principal: { AWS: OPERATOR } }] });

    const replacing = await inspectSetup(aws, config, params({ principals: [OTHER], replaceTrust: true }));
    expect(replacing.trust).toBe('replace');
    expect(setupPlan(replacing).warnings?.[0]).toContain(`+ `);
    await applySetup(aws.iam, replacing, step);
    expect(await trust(role)).toMatchObject({ Statement: [{ Principal: { AWS: OTHER } }] });
  });

  it('keeps the trust policy of an existing role when no principals are given; needs them for a new role', async () => {
    const { role, config, params } = world();
    await expect(inspectSetup(aws, config, params({ principals: [] }))).rejects.toThrow(/does not exist yet, so it needs a trust policy/);
    await expect(aws.iam.send(new GetRoleCommand({ RoleName: role }))).rejects.toMatchObject({ name: expect.stringMatching(/^NoSuchEntity/) });
    await applySetup(aws.iam, await inspectSetup(aws, config, params()), step);
    const keep = await inspectSetup(aws, config, params({ principals: [] }));
    expect(keep.trust).toBe('keep');
    expect(keep.policy).toBe('unchanged');
  });

  it('replaces an inline policy that differs and reports which statements change', async () => {
    const { role, config, params, dir } = world();
    await applySetup(aws.iam, await inspectSetup(aws, config, params()), step);
    const changed = minimalPolicy();
    changed.Statement = changed.Statement.filter((s) => s.Sid !== 'ACMCertificateManagement');
    writePolicy(dir, 'smaller.json', changed);
    const inspection = await inspectSetup(aws, config, params({ policyFile: 'smaller.json' }));
    expect(inspection.policy).toBe('replace');
    expect(setupPlan(inspection).steps[1]).toMatch(/statements added: none; removed: ACMCertificateManagement/);
    await applySetup(aws.iam, inspection, step);
    expect(await inlinePolicy(role, 'AutoStackMinimalPolicy')).toEqual(changed);
  });

  it('a failed setup removes the role it created in that run (access denied on PutRolePolicy)', async () => {
    const { role, config, params } = world();
    const denied = iamDenying((action) => action === 'PutRolePolicy');
    const inspection = await inspectSetup(aws, config, params());
    const run: string[] = [];
    const failure = applySetup(denied.iam, inspection, async (t) => void run.push(t));
    await expect(failure).rejects.toBeInstanceOf(UserFacingError);
    await expect(failure).rejects.toThrow(`Access denied: the bot's AWS identity is not allowed iam:PutRolePolicy on arn:aws:iam::${ACCOUNT}:role/${role}`);
    await expect(failure).rejects.toThrow(`Undone: deleted role ${role}. Everything is as it was before this run.`);
    expect(denied.sent).toEqual(['CreateRole', 'PutRolePolicy', 'DeleteRole']);
    await expect(aws.iam.send(new GetRoleCommand({ RoleName: role }))).rejects.toMatchObject({ name: expect.stringMatching(/^NoSuchEntity/) });
    expect(run.at(-1)).toContain(':x: Failed to put inline policy AutoStackMinimalPolicy');
  });

  it('a failed trust replacement leaves the role and its policy as they were', async () => {
    const { role, config, params, dir } = world();
    await applySetup(aws.iam, await inspectSetup(aws, config, params()), step);
    const changed = minimalPolicy();
    changed.Statement = changed.Statement.slice(0, 2);
    writePolicy(dir, 'two.json', changed);
    const denied = iamDenying((action) => action === 'PutRolePolicy');
    const inspection = await inspectSetup(aws, config, params({ principals: [OTHER], replaceTrust: true, policyFile: 'two.json' }));
    const failure = applySetup(denied.iam, inspection, step);
    await expect(failure).rejects.toThrow(`Undone: restored the previous trust policy of ${role}. Everything is as it was before this run.`);
    expect(await trust(role)).toMatchObject({ Statement: [{ Principal: { AWS: OPERATOR } }] });
    expect(await inlinePolicy(role, 'AutoStackMinimalPolicy')).toEqual(minimalPolicy());
  });

  it('access denied on GetRole names the missing IAM action before anything is created', async () => {
    const { role, config, params } = world();
    const denied = iamDenying((action) => action === 'GetRole');
    await expect(inspectSetup({ ...aws, iam: denied.iam }, config, params())).rejects.toThrow(`not allowed iam:GetRole on arn:aws:iam::${ACCOUNT}:role/${role}`);
    expect(denied.sent).toEqual(['GetRole']);
  });

  it('refuses a policy bigger than the inline quota before changing anything', async () => {
    const { role, config, params, dir } = world();
    const huge = { Version: '2012-10-17', Statement: Array.from({ length: 200 }, (_, i) => ({ Sid: `S${i}`, Effect: 'Allow', Action: `s3:GetObject`, Resource: `arn:aws:s3:::bucket-${i}-${'x'.repeat(20)}/*` })) };
    writePolicy(dir, 'huge.json', huge);
    await expect(inspectSetup(aws, config, params({ policyFile: 'huge.json' }))).rejects.toThrow(/IAM allows 10240 per role. Nothing was changed/);
    await expect(aws.iam.send(new GetRoleCommand({ RoleName: role }))).rejects.toMatchObject({ name: expect.stringMatching(/^NoSuchEntity/) });
  });

  it('--add-missing puts the minimal policy plus the proposal; iam check then passes every step', async () => {
    const { role, config, params } = world();
    await applySetup(aws.iam, await inspectSetup(aws, config, params()), step);
    const before = await runRoleCheck(aws, config, role, new Date());
    expect(before.result.rows.some((r) => r.verdict !== 'ok')).toBe(true);

    const inspection = await inspectSetup(aws, config, params({ addMissing: true, principals: [] }));
    expect(inspection.policy).toBe('replace');
    expect(inspection.added.map((s) => s.Sid)).toEqual(before.result.proposal.map((s) => s.Sid));
    expect(setupPlan(inspection).steps[1]).toMatch(/statements from iam check \(RunbookGaps/);
    await applySetup(aws.iam, inspection, step);

    const after = await runRoleCheck(aws, config, role, new Date());
    expect(after.result.rows.filter((r) => r.verdict !== 'ok').map((r) => r.requirement.step)).toEqual([]);
    expect(after.result.proposal).toEqual([]);
    // Idempotent: running it again changes nothing.
    expect((await inspectSetup(aws, config, params({ addMissing: true, principals: [] }))).policy).toBe('unchanged');
    const names = await aws.iam.send(new ListRolePoliciesCommand({ RoleName: role }));
    expect(names.PolicyNames).toEqual(['AutoStackMinimalPolicy']);
  });

  it('counts other inline policies of the role against the quota', async () => {
    const { role, config, params } = world();
    await applySetup(aws.iam, await inspectSetup(aws, config, params()), step);
    const big = { Version: '2012-10-17', Statement: Array.from({ length: 60 }, (_, i) => ({ Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::other-bucket-number-${i}/*` })) };
    await aws.iam.send(new PutRolePolicyCommand({ RoleName: role, PolicyName: 'Other', PolicyDocument: JSON.stringify(big) }));
    await expect(inspectSetup(aws, config, params({ addMissing: true }))).rejects.toThrow(/would be \d+ characters/);
  });
});
