/**
 * The Terraform states the bot knows (config.terraform.states) and the names Terraform's S3
 * backend derives from them. Terraform (internal/backend/remote-state/s3/client.go):
 *
 * - DynamoDB lock item: LockID = "<bucket>/<key>", attribute Info = LockInfo JSON.
 * - DynamoDB checksum item: LockID = "<bucket>/<key>-md5", attribute Digest = hex MD5 of the state
 *   bytes. It lives in the same table as the lock and must never be taken for a lock.
 * - S3-native lock file (use_lockfile = true): object "<key>.tflock" in the state bucket, body =
 *   the same LockInfo JSON. Terraform 1.11 writes no checksum for it (captured in the fixtures).
 *
 * Which lock a state uses: a state with `s3Lock: true` uses the lock file, and also the DynamoDB
 * lock when it names its own `lockTable` (Terraform's migration setup, both `use_lockfile` and
 * `dynamodb_table`: Terraform then takes both locks with the same ID and keeps the checksum in
 * DynamoDB). Any other state uses DynamoDB: its `lockTable`, else `terraform.lockTable`.
 */
import type { Config } from '../../src/config.ts';
import { UsageError, UserFacingError } from '../../src/core/types.ts';

export interface TfState {
  name: string;
  bucket: string;
  key: string;
  /** DynamoDB table holding the lock item and the checksum item, when the state uses one. */
  lockTable?: string;
  /** Whether the state uses Terraform's S3 lock file `<key>.tflock`. */
  s3Lock: boolean;
  /** `<bucket>/<key>`: the DynamoDB LockID and the Path Terraform writes into LockInfo. */
  lockId: string;
  /** `<bucket>/<key>-md5`: the checksum item's LockID. */
  digestId: string;
  /** `<key>.tflock`: the S3 lock file's key. */
  lockFileKey: string;
}

export const DIGEST_SUFFIX = '-md5';
export const LOCK_FILE_SUFFIX = '.tflock';

export function tfStates(config: Config): TfState[] {
  return config.terraform.states.map((s) => {
    const lockTable = s.lockTable ?? (s.s3Lock ? undefined : config.terraform.lockTable);
    const lockId = `${s.bucket}/${s.key}`;
    return {
      name: s.name,
      bucket: s.bucket,
      key: s.key,
      ...(lockTable ? { lockTable } : {}),
      s3Lock: s.s3Lock,
      lockId,
      digestId: `${lockId}${DIGEST_SUFFIX}`,
      lockFileKey: `${s.key}${LOCK_FILE_SUFFIX}`,
    };
  });
}

/** The named state, or the first configured one when no name is given. */
export function resolveState(config: Config, name?: string): TfState {
  const states = tfStates(config);
  if (name === undefined) return states[0]!;
  const found = states.find((s) => s.name === name);
  if (!found) {
    throw new UsageError(`unknown Terraform state "${name}" (configured: ${states.map((s) => s.name).join(', ')})`);
  }
  return found;
}

/** For plans and jobs: the state named in parsed parameters (the configuration may have changed since). */
export function stateFor(config: Config, name: string): TfState {
  const found = tfStates(config).find((s) => s.name === name);
  if (!found) throw new UserFacingError(`Terraform state "${name}" is no longer in the configuration (terraform.states). Nothing was changed.`);
  return found;
}

/** True when `word` names a configured state (used to tell `[state] [n]` apart). */
export function isStateName(config: Config, word: string): boolean {
  return config.terraform.states.some((s) => s.name === word);
}

export function s3Uri(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`;
}

export function s3ObjectArn(bucket: string, key: string): string {
  return `arn:aws:s3:::${bucket}/${key}`;
}

export function s3BucketArn(bucket: string): string {
  return `arn:aws:s3:::${bucket}`;
}

/** The table's ARN; the account is not known without an extra call, so it is a wildcard. */
export function tableArn(region: string, table: string): string {
  return `arn:aws:dynamodb:${region}:*:table/${table}`;
}
