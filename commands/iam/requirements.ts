/**
 * The requirements table: for every runbook step and every bot command that calls AWS, each IAM
 * action it needs and the resource (ARN) it touches, built from the configured names, the account
 * and the region. `iam check` evaluates a role's policies against it; the gap proposal grants
 * what is missing, scoped to `scope` (the resources the step may touch over time).
 */
import type { Config } from '../../src/config.ts';
import type { RequestContext } from './evaluator.ts';

export interface Need {
  action: string;
  /** The concrete resource the call touches (evaluated). */
  resource: string;
  /** What a grant should cover (default: `resource`), e.g. every rotated name of the role. */
  scope?: string[];
  /** Request context keys beyond the common ones (s3:prefix, dynamodb:LeadingKeys, ...). */
  context?: RequestContext;
}

export interface Requirement {
  id: string;
  source: 'runbook' | 'bot';
  /** As shown in the table: "IAM Setup 1: aws iam create-role". */
  step: string;
  needs: Need[];
  /** Why this row exists when it is not obvious from the command. */
  note?: string;
}

export interface RequirementInput {
  config: Config;
  account: string;
  partition: string;
  /** Region of the regional services (S3, DynamoDB, WAF). */
  region: string;
  /** The role the table is about (the one `iam check` reads). */
  roleName: string;
  /** Instance profiles the role is in (ARNs): deleting the role removes it from these. */
  instanceProfiles?: string[];
  /** Managed policies attached to the role (ARNs): read by the check, copied by rotation. */
  managedPolicies?: string[];
  /** The role has tags (rotation copies them: iam:TagRole). */
  roleHasTags?: boolean;
  /** The role has a permissions boundary (rotation copies it). */
  permissionsBoundary?: boolean;
}

/** `AutoStackTerraformRoleV3` → `AutoStackTerraformRole`. */
export function baseRoleName(roleName: string): string {
  const match = /^(.+?)V(\d+)$/.exec(roleName);
  return match && Number(match[2]) >= 2 ? match[1]! : roleName;
}

/** The name a rotation creates: `X` → `XV2`, `XV2` → `XV3`. */
export function nextRoleName(roleName: string): string {
  const match = /^(.+?)V(\d+)$/.exec(roleName);
  if (match && Number(match[2]) >= 2) return `${match[1]}V${Number(match[2]) + 1}`;
  return `${roleName}V2`;
}

export function roleArn(partition: string, account: string, roleName: string, path = '/'): string {
  return `arn:${partition}:iam::${account}:role${path}${roleName}`;
}

/** Every resource the common request context describes; added to each need's own keys. */
export function baseContext(input: RequirementInput, service: string, now: Date): RequestContext {
  const global = service === 'iam' || service === 'sts';
  return {
    'aws:RequestedRegion': global ? 'us-east-1' : input.region,
    'aws:SecureTransport': 'true',
    'aws:PrincipalAccount': input.account,
    'aws:PrincipalArn': roleArn(input.partition, input.account, input.roleName),
    'aws:PrincipalType': 'AssumedRole',
    'aws:CurrentTime': now.toISOString(),
    'aws:EpochTime': String(Math.floor(now.getTime() / 1000)),
    'aws:ViaAWSService': 'false',
  };
}

interface StateTarget {
  bucket: string;
  key: string;
  lockTable: string;
  s3Lock: boolean;
}

function stateTargets(config: Config): StateTarget[] {
  const seen = new Set<string>();
  const out: StateTarget[] = [];
  for (const state of config.terraform.states) {
    const target = { bucket: state.bucket, key: state.key, lockTable: state.lockTable ?? config.terraform.lockTable, s3Lock: state.s3Lock };
    const id = `${target.bucket}/${target.key}/${target.lockTable}/${target.s3Lock}`;
    if (!seen.has(id)) {
      seen.add(id);
      out.push(target);
    }
  }
  return out;
}

/** Removes duplicate (action, resource) pairs, keeping the first. */
function unique(needs: Need[]): Need[] {
  const seen = new Set<string>();
  return needs.filter((need) => {
    const id = `${need.action.toLowerCase()} ${need.resource} ${JSON.stringify(need.context ?? {})}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

export function buildRequirements(input: RequirementInput): Requirement[] {
  const { config, account, partition, region } = input;
  const base = baseRoleName(input.roleName);
  const current = roleArn(partition, account, input.roleName);
  const next = roleArn(partition, account, nextRoleName(input.roleName));
  // Rotation walks X → XV2 → XV3: grants cover the base name and its rotated names.
  const roleScope = [roleArn(partition, account, base), roleArn(partition, account, `${base}V*`)];
  const iam = (action: string, resource: string, scope: string[] = roleScope): Need => ({ action, resource, scope });
  const s3Bucket = (bucket: string) => `arn:${partition}:s3:::${bucket}`;
  const s3Object = (bucket: string, key: string) => `arn:${partition}:s3:::${bucket}/${key}`;
  const table = (name: string) => `arn:${partition}:dynamodb:${region}:${account}:table/${name}`;
  const states = stateTargets(config);
  const lockId = (s: StateTarget) => `${s.bucket}/${s.key}`;

  /** What Terraform's S3 backend needs to read the state under a lock (plan, apply, refresh). */
  const backendNeeds = (write: boolean): Need[] =>
    states.flatMap((s) => [
      // StateMgr lists the workspaces (prefix env:/) before it reads the state.
      { action: 's3:ListBucket', resource: s3Bucket(s.bucket), context: { 's3:prefix': 'env:/' } },
      { action: 's3:GetObject', resource: s3Object(s.bucket, s.key) },
      ...(write ? [{ action: 's3:PutObject', resource: s3Object(s.bucket, s.key) }] : []),
      { action: 'dynamodb:DescribeTable', resource: table(s.lockTable) },
      { action: 'dynamodb:GetItem', resource: table(s.lockTable), context: { 'dynamodb:LeadingKeys': [`${lockId(s)}-md5`] } },
      { action: 'dynamodb:PutItem', resource: table(s.lockTable), context: { 'dynamodb:LeadingKeys': [lockId(s)] } },
      { action: 'dynamodb:DeleteItem', resource: table(s.lockTable), context: { 'dynamodb:LeadingKeys': [lockId(s)] } },
      ...(s.s3Lock
        ? ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'].map((action) => ({ action, resource: s3Object(s.bucket, `${s.key}.tflock`) }))
        : []),
    ]);

  /** What removing a state's lock needs: read and delete its lock item, and its S3 lock file where Terraform uses one. */
  const unlockNeeds = (s: StateTarget): Need[] => [
    { action: 'dynamodb:GetItem', resource: table(s.lockTable), context: { 'dynamodb:LeadingKeys': [lockId(s)] } },
    { action: 'dynamodb:DeleteItem', resource: table(s.lockTable), context: { 'dynamodb:LeadingKeys': [lockId(s)] } },
    ...(s.s3Lock ? ['s3:GetObject', 's3:DeleteObject'].map((action) => ({ action, resource: s3Object(s.bucket, `${s.key}.tflock`) })) : []),
  ];

  const inlineCopy = (resource: string): Need[] => [iam('iam:ListRolePolicies', resource), iam('iam:GetRolePolicy', resource)];
  const managedRead = (input.managedPolicies ?? []).flatMap((arn) => [
    { action: 'iam:GetPolicy', resource: arn },
    { action: 'iam:GetPolicyVersion', resource: arn },
  ]);
  const deleteRole = (resource: string): Need[] => [
    iam('iam:ListInstanceProfilesForRole', resource),
    ...(input.instanceProfiles ?? []).map((profile) => ({ action: 'iam:RemoveRoleFromInstanceProfile', resource: profile })),
    iam('iam:ListRolePolicies', resource),
    iam('iam:DeleteRolePolicy', resource),
    iam('iam:ListAttachedRolePolicies', resource),
    iam('iam:DetachRolePolicy', resource),
    iam('iam:DeleteRole', resource),
  ];

  const rows: Requirement[] = [
    // ---- the runbook itself ----
    { id: 'runbook.iam-setup.1', source: 'runbook', step: 'IAM Setup 1: aws iam create-role', needs: [iam('iam:CreateRole', current)] },
    { id: 'runbook.iam-setup.2', source: 'runbook', step: 'IAM Setup 2: aws iam put-role-policy', needs: [iam('iam:PutRolePolicy', current)] },
    { id: 'runbook.iam-setup.3', source: 'runbook', step: 'IAM Setup 3: aws iam get-role', needs: [iam('iam:GetRole', current)] },
    { id: 'runbook.rotate-role.1', source: 'runbook', step: `Rotate AWS IAM Role 1: aws iam create-role (${nextRoleName(input.roleName)})`, needs: [iam('iam:CreateRole', next)] },
    { id: 'runbook.rotate-role.2', source: 'runbook', step: 'Rotate AWS IAM Role 2: aws iam put-role-policy', needs: [iam('iam:PutRolePolicy', next)] },
    {
      id: 'runbook.rotate-role.4',
      source: 'runbook',
      step: 'Rotate AWS IAM Role 4: terraform plan (state backend)',
      needs: backendNeeds(false),
      note: 'Only the S3 backend; the resources Terraform manages need their own read permissions.',
    },
    {
      id: 'runbook.rotate-role.5',
      source: 'runbook',
      step: 'Rotate AWS IAM Role 5: aws iam delete-role',
      needs: [iam('iam:DeleteRolePolicy', current), iam('iam:DeleteRole', current)],
      note: 'IAM refuses DeleteRole (DeleteConflict) while the inline policy from step 2 is there: it must be deleted first.',
    },
    {
      id: 'runbook.tf-locked.1',
      source: 'runbook',
      step: 'Terraform State Locked 1: aws dynamodb scan',
      needs: unique(states.map((s) => ({ action: 'dynamodb:Scan', resource: table(s.lockTable) }))),
    },
    {
      id: 'runbook.tf-locked.3',
      source: 'runbook',
      step: 'Terraform State Locked 3: terraform force-unlock',
      needs: unique(states.flatMap((s) => [{ action: 's3:ListBucket', resource: s3Bucket(s.bucket), context: { 's3:prefix': 'env:/' } }, ...unlockNeeds(s)])),
    },
    {
      id: 'runbook.tf-locked.4',
      source: 'runbook',
      step: 'Terraform State Locked 4: aws dynamodb delete-item',
      needs: unique(states.map((s) => ({ action: 'dynamodb:DeleteItem', resource: table(s.lockTable), context: { 'dynamodb:LeadingKeys': [s.key] } }))),
    },
    {
      id: 'runbook.tf-restore.1',
      source: 'runbook',
      step: 'Restore Previous State 1: aws s3api list-object-versions',
      needs: unique(states.map((s) => ({ action: 's3:ListBucketVersions', resource: s3Bucket(s.bucket), context: { 's3:prefix': s.key } }))),
    },
    {
      id: 'runbook.tf-restore.2',
      source: 'runbook',
      step: 'Restore Previous State 2: aws s3api get-object --version-id',
      needs: unique(states.map((s) => ({ action: 's3:GetObjectVersion', resource: s3Object(s.bucket, s.key) }))),
    },
    // ---- the bot's own AWS calls ----
    {
      id: 'bot.tf.lock',
      source: 'bot',
      step: 'Bot: tf lock (who holds the lock)',
      needs: unique(
        states.flatMap((s) => [
          { action: 'dynamodb:GetItem', resource: table(s.lockTable), context: { 'dynamodb:LeadingKeys': [lockId(s)] } },
          ...(s.s3Lock ? [{ action: 's3:GetObject', resource: s3Object(s.bucket, `${s.key}.tflock`) }] : []),
        ]),
      ),
    },
    {
      id: 'bot.tf.unlock',
      source: 'bot',
      step: 'Bot: tf unlock',
      needs: unique(states.flatMap(unlockNeeds)),
    },
    {
      id: 'bot.tf.versions',
      source: 'bot',
      step: 'Bot: tf versions',
      needs: unique(
        states.flatMap((s) => [
          { action: 's3:GetBucketVersioning', resource: s3Bucket(s.bucket) },
          { action: 's3:ListBucketVersions', resource: s3Bucket(s.bucket), context: { 's3:prefix': s.key } },
          // Serial, lineage and Terraform version of each listed version.
          { action: 's3:GetObjectVersion', resource: s3Object(s.bucket, s.key) },
        ]),
      ),
    },
    {
      id: 'bot.tf.restore',
      source: 'bot',
      step: 'Bot: tf restore',
      needs: unique(
        states.flatMap((s) => [
          { action: 's3:GetBucketVersioning', resource: s3Bucket(s.bucket) },
          { action: 's3:ListBucketVersions', resource: s3Bucket(s.bucket), context: { 's3:prefix': s.key } },
          { action: 's3:GetObjectVersion', resource: s3Object(s.bucket, s.key) },
          { action: 's3:GetObject', resource: s3Object(s.bucket, s.key) },
          { action: 's3:PutObject', resource: s3Object(s.bucket, s.key) },
          // Holds the lock while restoring and rewrites the state digest Terraform checks.
          { action: 'dynamodb:GetItem', resource: table(s.lockTable), context: { 'dynamodb:LeadingKeys': [lockId(s)] } },
          { action: 'dynamodb:GetItem', resource: table(s.lockTable), context: { 'dynamodb:LeadingKeys': [`${lockId(s)}-md5`] } },
          { action: 'dynamodb:PutItem', resource: table(s.lockTable), context: { 'dynamodb:LeadingKeys': [lockId(s)] } },
          { action: 'dynamodb:PutItem', resource: table(s.lockTable), context: { 'dynamodb:LeadingKeys': [`${lockId(s)}-md5`] } },
          { action: 'dynamodb:DeleteItem', resource: table(s.lockTable), context: { 'dynamodb:LeadingKeys': [lockId(s)] } },
          ...(s.s3Lock ? ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'].map((action) => ({ action, resource: s3Object(s.bucket, `${s.key}.tflock`) })) : []),
        ]),
      ),
    },
    {
      id: 'bot.backup',
      source: 'bot',
      step: 'Bot: backup now/list/verify/restore and retention',
      needs: (() => {
        const bucket = config.backup.bucket;
        const object = s3Object(bucket, `${config.backup.prefix}autostack-backup.dump`);
        const scope = [s3Object(bucket, `${config.backup.prefix}*`)];
        const onObject = (action: string): Need => ({ action, resource: object, scope });
        return [
          // Upload (lib-storage): PutObject, or Create/UploadPart/CompleteMultipartUpload, all s3:PutObject.
          onObject('s3:PutObject'),
          onObject('s3:AbortMultipartUpload'),
          { action: 's3:ListBucketMultipartUploads', resource: s3Bucket(bucket), context: { 's3:prefix': config.backup.prefix } },
          { action: 's3:ListBucket', resource: s3Bucket(bucket), context: { 's3:prefix': config.backup.prefix } },
          // HeadObject, GetObject and the source of CopyObject / UploadPartCopy.
          onObject('s3:GetObject'),
          onObject('s3:GetObjectVersion'),
          onObject('s3:GetObjectTagging'),
          onObject('s3:PutObjectTagging'),
          // Retention (DeleteObjects counts as s3:DeleteObject per key) and removal of superseded versions.
          onObject('s3:DeleteObject'),
          onObject('s3:DeleteObjectVersion'),
        ];
      })(),
    },
    {
      id: 'bot.iam.setup',
      source: 'bot',
      step: 'Bot: iam setup',
      needs: [
        iam('iam:GetRole', current),
        iam('iam:CreateRole', current),
        iam('iam:UpdateAssumeRolePolicy', current),
        // An existing role: its other inline policies count against the quota; --add-missing reads it all.
        ...inlineCopy(current),
        iam('iam:ListAttachedRolePolicies', current),
        iam('iam:ListInstanceProfilesForRole', current),
        ...managedRead,
        iam('iam:PutRolePolicy', current),
        // Undo of a failed run: what it created is removed again.
        iam('iam:DeleteRolePolicy', current),
        iam('iam:DeleteRole', current),
      ],
    },
    {
      id: 'bot.iam.check',
      source: 'bot',
      step: 'Bot: iam check and quarterly review',
      needs: [iam('iam:GetRole', current), ...inlineCopy(current), iam('iam:ListAttachedRolePolicies', current), iam('iam:ListInstanceProfilesForRole', current), ...managedRead],
    },
    {
      id: 'bot.rotate.create',
      source: 'bot',
      step: 'Bot: rotate aws-role (create the next role)',
      needs: [
        iam('iam:GetRole', current),
        ...inlineCopy(current),
        iam('iam:ListAttachedRolePolicies', current),
        iam('iam:ListInstanceProfilesForRole', current),
        iam('iam:GetRole', next),
        iam('iam:CreateRole', next),
        ...(input.roleHasTags ? [iam('iam:TagRole', next)] : []),
        ...(input.permissionsBoundary ? [iam('iam:PutRolePermissionsBoundary', next)] : []),
        iam('iam:PutRolePolicy', next),
        iam('iam:AttachRolePolicy', next),
        ...inlineCopy(next),
        iam('iam:ListAttachedRolePolicies', next),
        // Undo of a failed run.
        iam('iam:DeleteRolePolicy', next),
        iam('iam:DetachRolePolicy', next),
        iam('iam:DeleteRole', next),
      ],
    },
    {
      id: 'bot.rotate.delete',
      source: 'bot',
      step: 'Bot: rotate aws-role (delete the old role)',
      // First checks that the new role still carries every policy of the old one. If a step fails,
      // what was removed is put back (PutRolePolicy, AttachRolePolicy, AddRoleToInstanceProfile with
      // iam:PassRole): best effort, not counted here.
      needs: [iam('iam:GetRole', current), iam('iam:GetRole', next), ...inlineCopy(next), iam('iam:ListAttachedRolePolicies', next), ...deleteRole(current), iam('iam:GetRolePolicy', current)],
    },
  ];

  const waf = config.rateLimit.block.waf;
  if (config.rateLimit.block.backend === 'waf' && waf) {
    const ipSetArn = (set: { name: string; id: string }) =>
      waf.scope === 'CLOUDFRONT'
        ? `arn:${partition}:wafv2:us-east-1:${account}:global/ipset/${set.name}/${set.id}`
        : `arn:${partition}:wafv2:${region}:${account}:regional/ipset/${set.name}/${set.id}`;
    // An IP set holds one address family; a second set for IPv6 may be configured beside it.
    const ipv6 = (waf as { ipv6?: { name: string; id: string } }).ipv6;
    const sets = [waf, ...(ipv6 ? [ipv6] : [])];
    rows.push({
      id: 'bot.ratelimit.block',
      source: 'bot',
      step: 'Bot: ratelimit block/unblock (WAF IP set)',
      needs: sets.flatMap((set) => [
        { action: 'wafv2:GetIPSet', resource: ipSetArn(set) },
        { action: 'wafv2:UpdateIPSet', resource: ipSetArn(set) },
      ]),
    });
  }
  return rows.map((row) => ({ ...row, needs: unique(row.needs) }));
}
