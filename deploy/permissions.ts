/**
 * The permission table: every AWS and Kubernetes call the code makes, where it makes it, and the
 * permission it needs. `scripts/permissions.ts` generates the bot's IAM policy and Kubernetes Role
 * from it; `tests/ship/permissions.test.ts` fails when the code makes a call this table lacks, when
 * a row names a call the code no longer makes, or when a generated file is out of date.
 *
 * Resources come from the configuration (the runbook's names by default): the Terraform states
 * and lock tables, the backup bucket and prefix, the IAM role and its rotated names, the WAF IP
 * sets, the Secrets and the Ingress the bot edits.
 */
import type { Config } from '../src/config.ts';

export interface AwsCallRow {
  /** The SDK client package's service: `@aws-sdk/client-s3` → `s3`. */
  service: 's3' | 'dynamodb' | 'iam' | 'sts' | 'wafv2';
  /** The call as written: `GetObject` for `new GetObjectCommand(`, `paginateListRolePolicies`, or `Upload` (lib-storage). */
  call: string;
  /** The files that make this call (relative to the repository root). */
  files: string[];
  /** IAM actions the call needs (none: the call needs no permission). */
  actions: string[];
  /** The ARNs those actions are granted on, from the configuration. */
  resources: (config: Config) => string[];
  note?: string;
}

export interface KubeCallRow {
  /** The @kubernetes/client-node API method (`readNamespacedSecret`), or a helper class it constructs (`Log`). */
  call: string;
  files: string[];
  apiGroup: string;
  resource: string;
  verb: 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete';
  /** The named objects the call touches: config paths (`backend.secret`) resolved to names. */
  resourceNames?: Array<keyof typeof NAMED_OBJECTS>;
}

/** Objects the code only ever touches by their configured name. */
export const NAMED_OBJECTS = {
  'backend.secret': (c: Config) => c.backend.secret,
  'backend.stagedSecret': (c: Config) => c.backend.stagedSecret,
  'rateLimit.block.ingress': (c: Config) => c.rateLimit.block.ingress,
} as const;

const s3Bucket = (bucket: string) => `arn:aws:s3:::${bucket}`;
const s3Object = (bucket: string, key: string) => `arn:aws:s3:::${bucket}/${key}`;
const uniq = (values: string[]) => [...new Set(values)];

const stateObjects = (c: Config) => uniq(c.terraform.states.map((s) => s3Object(s.bucket, s.key)));
const stateBuckets = (c: Config) => uniq(c.terraform.states.map((s) => s3Bucket(s.bucket)));
/** Terraform 1.10+ lock files (`use_lockfile`), only for states that use them. */
const lockFiles = (c: Config) => uniq(c.terraform.states.filter((s) => s.s3Lock).map((s) => s3Object(s.bucket, `${s.key}.tflock`)));
const lockTables = (c: Config) => uniq(c.terraform.states.map((s) => `arn:aws:dynamodb:*:*:table/${s.lockTable ?? c.terraform.lockTable}`));
const backupObjects = (c: Config) => [s3Object(c.backup.bucket, `${c.backup.prefix}*`)];
const backupBucket = (c: Config) => [s3Bucket(c.backup.bucket)];
/** The configured role and the names rotation gives it (X → XV2 → XV3). */
const roles = (c: Config) => {
  const base = /^(.+?)V(\d+)$/.exec(c.iam.roleName)?.[1] ?? c.iam.roleName;
  return [`arn:aws:iam::*:role/${base}`, `arn:aws:iam::*:role/${base}V*`];
};
const ipSets = (c: Config) => {
  const waf = c.rateLimit.block.waf;
  if (c.rateLimit.block.backend !== 'waf' || !waf) return [];
  const sets = [waf, ...(waf.ipv6 ? [waf.ipv6] : [])];
  return sets.map((set) => (waf.scope === 'CLOUDFRONT' ? `arn:aws:wafv2:us-east-1:*:global/ipset/${set.name}/${set.id}` : `arn:aws:wafv2:*:*:regional/ipset/${set.name}/${set.id}`));
};

const TF = ['commands/tf/locks.ts'];
const VERSIONS = ['commands/tf/versions.ts'];
const RESTORE = ['commands/tf/restore.ts'];
const OBJECTS = ['commands/backup/objects.ts'];
const ROLE = ['commands/iam/role.ts'];
const ROTATE = ['commands/iam/rotate.ts'];
const SETUP = ['commands/iam/setup.ts'];

export const AWS_CALLS: AwsCallRow[] = [
  // ---- Terraform state and locks ----
  { service: 'dynamodb', call: 'GetItem', files: [...TF, ...RESTORE], actions: ['dynamodb:GetItem'], resources: lockTables },
  { service: 'dynamodb', call: 'PutItem', files: [...TF, ...RESTORE], actions: ['dynamodb:PutItem'], resources: lockTables, note: 'the restore holds the lock and rewrites the digest item' },
  { service: 'dynamodb', call: 'DeleteItem', files: TF, actions: ['dynamodb:DeleteItem'], resources: lockTables },
  { service: 's3', call: 'GetObject', files: TF, actions: ['s3:GetObject'], resources: lockFiles },
  { service: 's3', call: 'PutObject', files: TF, actions: ['s3:PutObject'], resources: lockFiles },
  { service: 's3', call: 'DeleteObject', files: TF, actions: ['s3:DeleteObject'], resources: lockFiles },
  { service: 's3', call: 'GetBucketVersioning', files: VERSIONS, actions: ['s3:GetBucketVersioning'], resources: stateBuckets },
  { service: 's3', call: 'ListObjectVersions', files: VERSIONS, actions: ['s3:ListBucketVersions'], resources: stateBuckets },
  { service: 's3', call: 'GetObject', files: VERSIONS, actions: ['s3:GetObject', 's3:GetObjectVersion'], resources: stateObjects },
  { service: 's3', call: 'HeadObject', files: [...VERSIONS, 'commands/tf/unlock.ts'], actions: ['s3:GetObject'], resources: stateObjects, note: 'tf unlock: when the state was last written' },
  { service: 's3', call: 'PutObject', files: RESTORE, actions: ['s3:PutObject'], resources: stateObjects, note: "writes an old version's content as the new current state" },
  // ---- database backups ----
  { service: 's3', call: 'Upload', files: ['commands/backup/dump.ts'], actions: ['s3:PutObject', 's3:AbortMultipartUpload'], resources: backupObjects, note: 'lib-storage: PutObject or a multipart upload, aborted on failure' },
  { service: 's3', call: 'ListObjectsV2', files: ['commands/backup/dump.ts', ...OBJECTS], actions: ['s3:ListBucket'], resources: backupBucket },
  { service: 's3', call: 'GetObject', files: ['commands/backup/load.ts'], actions: ['s3:GetObject', 's3:GetObjectVersion'], resources: backupObjects },
  { service: 's3', call: 'HeadObject', files: OBJECTS, actions: ['s3:GetObject'], resources: backupObjects },
  { service: 's3', call: 'GetObjectTagging', files: OBJECTS, actions: ['s3:GetObjectTagging'], resources: backupObjects },
  { service: 's3', call: 'PutObjectTagging', files: OBJECTS, actions: ['s3:PutObjectTagging'], resources: backupObjects },
  { service: 's3', call: 'CopyObject', files: OBJECTS, actions: ['s3:GetObject', 's3:GetObjectVersion', 's3:GetObjectTagging', 's3:PutObject', 's3:PutObjectTagging'], resources: backupObjects },
  { service: 's3', call: 'CreateMultipartUpload', files: OBJECTS, actions: ['s3:PutObject'], resources: backupObjects },
  { service: 's3', call: 'UploadPartCopy', files: OBJECTS, actions: ['s3:PutObject', 's3:GetObject', 's3:GetObjectVersion'], resources: backupObjects },
  { service: 's3', call: 'CompleteMultipartUpload', files: OBJECTS, actions: ['s3:PutObject'], resources: backupObjects },
  { service: 's3', call: 'AbortMultipartUpload', files: OBJECTS, actions: ['s3:AbortMultipartUpload'], resources: backupObjects },
  { service: 's3', call: 'ListMultipartUploads', files: OBJECTS, actions: ['s3:ListBucketMultipartUploads'], resources: backupBucket },
  { service: 's3', call: 'DeleteObject', files: OBJECTS, actions: ['s3:DeleteObject', 's3:DeleteObjectVersion'], resources: backupObjects },
  { service: 's3', call: 'DeleteObjects', files: OBJECTS, actions: ['s3:DeleteObject'], resources: backupObjects },
  // ---- the Terraform role: check, review, setup, rotation ----
  { service: 'sts', call: 'GetCallerIdentity', files: ['commands/iam/aws.ts'], actions: [], resources: () => [], note: 'needs no permission' },
  { service: 'iam', call: 'GetRole', files: ROLE, actions: ['iam:GetRole'], resources: roles },
  { service: 'iam', call: 'paginateListRolePolicies', files: ROLE, actions: ['iam:ListRolePolicies'], resources: roles },
  { service: 'iam', call: 'GetRolePolicy', files: ROLE, actions: ['iam:GetRolePolicy'], resources: roles },
  { service: 'iam', call: 'paginateListAttachedRolePolicies', files: ROLE, actions: ['iam:ListAttachedRolePolicies'], resources: roles },
  { service: 'iam', call: 'paginateListInstanceProfilesForRole', files: ROLE, actions: ['iam:ListInstanceProfilesForRole'], resources: roles },
  { service: 'iam', call: 'GetPolicy', files: ROLE, actions: ['iam:GetPolicy'], resources: () => ['arn:aws:iam::*:policy/*'], note: 'the managed policies attached to the role, whatever their names' },
  { service: 'iam', call: 'GetPolicyVersion', files: ROLE, actions: ['iam:GetPolicyVersion'], resources: () => ['arn:aws:iam::*:policy/*'] },
  { service: 'iam', call: 'CreateRole', files: [...SETUP, ...ROTATE], actions: ['iam:CreateRole', 'iam:TagRole', 'iam:PutRolePermissionsBoundary'], resources: roles, note: 'rotation copies the tags and permissions boundary' },
  { service: 'iam', call: 'UpdateAssumeRolePolicy', files: SETUP, actions: ['iam:UpdateAssumeRolePolicy'], resources: roles },
  { service: 'iam', call: 'PutRolePolicy', files: [...SETUP, ...ROTATE], actions: ['iam:PutRolePolicy'], resources: roles },
  { service: 'iam', call: 'DeleteRolePolicy', files: [...SETUP, ...ROTATE], actions: ['iam:DeleteRolePolicy'], resources: roles },
  { service: 'iam', call: 'DeleteRole', files: [...SETUP, ...ROTATE], actions: ['iam:DeleteRole'], resources: roles },
  { service: 'iam', call: 'AttachRolePolicy', files: ROTATE, actions: ['iam:AttachRolePolicy'], resources: roles },
  { service: 'iam', call: 'DetachRolePolicy', files: ROTATE, actions: ['iam:DetachRolePolicy'], resources: roles },
  { service: 'iam', call: 'RemoveRoleFromInstanceProfile', files: ROTATE, actions: ['iam:RemoveRoleFromInstanceProfile'], resources: () => ['arn:aws:iam::*:instance-profile/*'], note: 'the profiles the old role is in' },
  { service: 'iam', call: 'AddRoleToInstanceProfile', files: ROTATE, actions: ['iam:AddRoleToInstanceProfile'], resources: () => ['arn:aws:iam::*:instance-profile/*'], note: 'putting a profile back after a failed step' },
  { service: 'iam', call: 'AddRoleToInstanceProfile', files: ROTATE, actions: ['iam:PassRole'], resources: roles, note: 'adding a role to an instance profile passes the role' },
  // ---- rate-limit blocks in an AWS WAF IP set ----
  { service: 'wafv2', call: 'GetIPSet', files: ['commands/incident/ratelimit/blocklist.ts'], actions: ['wafv2:GetIPSet'], resources: ipSets },
  { service: 'wafv2', call: 'UpdateIPSet', files: ['commands/incident/ratelimit/blocklist.ts'], actions: ['wafv2:UpdateIPSet'], resources: ipSets },
  // ---- the per-person role session ----
  { service: 'sts', call: 'AssumeRole', files: ['src/clients.ts'], actions: ['sts:AssumeRole'], resources: (c) => (c.aws.assumeRoleArn ? [c.aws.assumeRoleArn] : []) },
];

const KUBE_READS = ['commands/shared/kube.ts'];
const KUBE_ROLLOUTS = ['commands/shared/kube-rollouts.ts'];
const KUBE_LOGS = ['commands/shared/kube-logs.ts'];
const KUBE_JOBS = ['commands/shared/kube-jobs.ts'];
const BLOCKLIST = ['commands/incident/ratelimit/blocklist.ts'];
const SECRET = ['commands/rotate/secret.ts'];
const WARNINGS = ['commands/incident/warnings/watcher.ts'];
const WARNINGS_STREAM = ['commands/incident/warnings/stream.ts'];
const WARNINGS_OWNERS = ['commands/incident/warnings/workloads.ts'];

export const KUBE_CALLS: KubeCallRow[] = [
  { call: 'readNamespacedDeployment', files: [...KUBE_READS, 'commands/shared/apps.ts', 'commands/deploy/operation.ts'], apiGroup: 'apps', resource: 'deployments', verb: 'get' },
  { call: 'listNamespacedDeployment', files: KUBE_READS, apiGroup: 'apps', resource: 'deployments', verb: 'list' },
  { call: 'patchNamespacedDeployment', files: [...KUBE_ROLLOUTS, 'commands/deploy/steps.ts'], apiGroup: 'apps', resource: 'deployments', verb: 'patch' },
  { call: 'readNamespacedStatefulSet', files: [...KUBE_READS, 'commands/shared/apps.ts'], apiGroup: 'apps', resource: 'statefulsets', verb: 'get' },
  { call: 'patchNamespacedStatefulSet', files: KUBE_ROLLOUTS, apiGroup: 'apps', resource: 'statefulsets', verb: 'patch' },
  { call: 'listNamespacedReplicaSet', files: KUBE_ROLLOUTS, apiGroup: 'apps', resource: 'replicasets', verb: 'list' },
  { call: 'readNamespacedReplicaSet', files: WARNINGS_OWNERS, apiGroup: 'apps', resource: 'replicasets', verb: 'get' },
  { call: 'listNamespacedPod', files: [...KUBE_READS, ...KUBE_JOBS, ...WARNINGS], apiGroup: '', resource: 'pods', verb: 'list' },
  { call: 'readNamespacedPod', files: [...KUBE_JOBS, ...WARNINGS_OWNERS], apiGroup: '', resource: 'pods', verb: 'get' },
  { call: 'listNamespacedEvent', files: ['commands/incident/status.ts', ...WARNINGS], apiGroup: '', resource: 'events', verb: 'list' },
  // The warnings watcher's list+watch (Watch on the paths of pods, events and jobs).
  { call: 'Watch', files: WARNINGS_STREAM, apiGroup: '', resource: 'pods', verb: 'watch' },
  { call: 'Watch', files: WARNINGS_STREAM, apiGroup: '', resource: 'events', verb: 'watch' },
  { call: 'Watch', files: WARNINGS_STREAM, apiGroup: 'batch', resource: 'jobs', verb: 'watch' },
  { call: 'readNamespacedPodLog', files: KUBE_LOGS, apiGroup: '', resource: 'pods/log', verb: 'get' },
  { call: 'Log', files: KUBE_LOGS, apiGroup: '', resource: 'pods/log', verb: 'get' },
  { call: 'createNamespacedJob', files: KUBE_JOBS, apiGroup: 'batch', resource: 'jobs', verb: 'create' },
  { call: 'readNamespacedJob', files: KUBE_JOBS, apiGroup: 'batch', resource: 'jobs', verb: 'get' },
  { call: 'listNamespacedJob', files: ['commands/shared/migrate.ts', ...WARNINGS], apiGroup: 'batch', resource: 'jobs', verb: 'list' },
  { call: 'deleteNamespacedJob', files: KUBE_JOBS, apiGroup: 'batch', resource: 'jobs', verb: 'delete' },
  { call: 'readNamespacedSecret', files: SECRET, apiGroup: '', resource: 'secrets', verb: 'get', resourceNames: ['backend.secret', 'backend.stagedSecret'] },
  { call: 'patchNamespacedSecret', files: SECRET, apiGroup: '', resource: 'secrets', verb: 'patch', resourceNames: ['backend.secret', 'backend.stagedSecret'] },
  { call: 'readNamespacedIngress', files: BLOCKLIST, apiGroup: 'networking.k8s.io', resource: 'ingresses', verb: 'get', resourceNames: ['rateLimit.block.ingress'] },
  { call: 'patchNamespacedIngress', files: BLOCKLIST, apiGroup: 'networking.k8s.io', resource: 'ingresses', verb: 'patch', resourceNames: ['rateLimit.block.ingress'] },
];
