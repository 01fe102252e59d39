/**
 * The state object's versions in the versioned state bucket, and what each version's state JSON
 * says about itself (serial, lineage, terraform_version).
 */
import { createHash } from 'node:crypto';
import { GetBucketVersioningCommand, GetObjectCommand, HeadObjectCommand, ListObjectVersionsCommand } from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import { UserFacingError } from '../../src/core/types.ts';
import { aws } from './aws-errors.ts';
import { awsErrorName } from '../shared/aws-errors.ts';
import { s3BucketArn, s3ObjectArn, s3Uri } from './states.ts';
import type { TfState } from './states.ts';

export interface StateSummary {
  serial?: number;
  lineage?: string;
  terraformVersion?: string;
}

export interface StateVersion {
  versionId: string;
  lastModified?: Date;
  size?: number;
  etag?: string;
  isLatest: boolean;
  deleteMarker: boolean;
  summary?: StateSummary;
}

export interface StateObject {
  versionId: string;
  body: Buffer;
  /** Hex MD5 of the body: what Terraform stores as the checksum item's Digest. */
  md5: string;
  etag?: string;
  contentType?: string;
  serverSideEncryption?: string;
  sseKmsKeyId?: string;
  summary: StateSummary;
}

/** S3 version IDs are opaque, URL-ready strings up to 1,024 bytes; "null" names a pre-versioning object. */
const VERSION_ID = /^[A-Za-z0-9._+/=-]{1,1024}$/;

export function isValidVersionId(value: string): boolean {
  return VERSION_ID.test(value);
}

/** The versions a restore can bring back: earlier ones with content, not the current one nor a delete marker. */
export function restorableVersions(versions: StateVersion[]): StateVersion[] {
  return versions.filter((v) => !v.isLatest && !v.deleteMarker && isValidVersionId(v.versionId));
}

export function md5Hex(data: Uint8Array): string {
  return createHash('md5').update(data).digest('hex');
}

/** Serial, lineage and Terraform version from a state JSON (or a prefix of one). */
export function summarizeState(text: string): StateSummary {
  try {
    const parsed = JSON.parse(text) as Record<string, unknown>;
    if (typeof parsed === 'object' && parsed !== null) {
      return {
        ...(typeof parsed.serial === 'number' ? { serial: parsed.serial } : {}),
        ...(typeof parsed.lineage === 'string' ? { lineage: parsed.lineage } : {}),
        ...(typeof parsed.terraform_version === 'string' ? { terraformVersion: parsed.terraform_version } : {}),
      };
    }
  } catch {
    // A prefix (ranged read): Terraform writes these fields first; pick them out.
  }
  const serial = /"serial"\s*:\s*(\d+)/.exec(text)?.[1];
  const lineage = /"lineage"\s*:\s*"([^"\\]{1,200})"/.exec(text)?.[1];
  const tfv = /"terraform_version"\s*:\s*"([^"\\]{1,100})"/.exec(text)?.[1];
  return {
    ...(serial !== undefined ? { serial: Number(serial) } : {}),
    ...(lineage !== undefined ? { lineage } : {}),
    ...(tfv !== undefined ? { terraformVersion: tfv } : {}),
  };
}

function complete(summary: StateSummary): boolean {
  return summary.serial !== undefined && summary.lineage !== undefined && summary.terraformVersion !== undefined;
}

export type VersioningStatus = 'Enabled' | 'Suspended' | 'Disabled';

export async function bucketVersioning(s3: S3Client, bucket: string): Promise<VersioningStatus> {
  const out = await aws({ action: 's3:GetBucketVersioning', resource: s3BucketArn(bucket), bucket }, () =>
    s3.send(new GetBucketVersioningCommand({ Bucket: bucket })),
  );
  return out.Status === 'Enabled' ? 'Enabled' : out.Status === 'Suspended' ? 'Suspended' : 'Disabled';
}

async function getStateObject(s3: S3Client, state: TfState, versionId?: string): Promise<StateObject> {
  const out = await s3.send(new GetObjectCommand({ Bucket: state.bucket, Key: state.key, ...(versionId ? { VersionId: versionId } : {}) }));
  const body = Buffer.from((await out.Body?.transformToByteArray()) ?? new Uint8Array());
  return {
    versionId: out.VersionId ?? versionId ?? 'null',
    body,
    md5: md5Hex(body),
    ...(out.ETag ? { etag: out.ETag } : {}),
    ...(out.ContentType ? { contentType: out.ContentType } : {}),
    ...(out.ServerSideEncryption ? { serverSideEncryption: out.ServerSideEncryption } : {}),
    ...(out.SSEKMSKeyId ? { sseKmsKeyId: out.SSEKMSKeyId } : {}),
    summary: summarizeState(body.toString('utf8')),
  };
}

function stateCall(state: TfState, versionId?: string) {
  return {
    action: versionId ? 's3:GetObjectVersion' : 's3:GetObject',
    resource: s3ObjectArn(state.bucket, state.key),
    bucket: state.bucket,
    key: state.key,
    ...(versionId ? { versionId } : {}),
  };
}

/** Reads one version (or the current one) in full. */
export async function readStateObject(s3: S3Client, state: TfState, versionId?: string): Promise<StateObject> {
  try {
    return await getStateObject(s3, state, versionId);
  } catch (error) {
    const name = awsErrorName(error);
    // AWS answers 405 for a delete marker's version ID; moto answers NoSuchVersion. Either way,
    // say which it is when the listing (if permitted) shows a delete marker.
    if (versionId && (name === 'NoSuchVersion' || name === 'MethodNotAllowed')) {
      const kind = await versionKind(s3, state, versionId).catch(() => undefined);
      if (kind === 'delete-marker') {
        throw new UserFacingError(
          `Version ${versionId} of ${s3Uri(state.bucket, state.key)} is a delete marker, not a state. Choose a version with content (\`/autostack tf versions\`).`,
        );
      }
    }
    return aws(stateCall(state, versionId), () => Promise.reject(error));
  }
}

/** Whether a version ID is a version or a delete marker of the state object (undefined: neither). */
export async function versionKind(s3: S3Client, state: TfState, versionId: string): Promise<'version' | 'delete-marker' | undefined> {
  let keyMarker: string | undefined;
  let versionIdMarker: string | undefined;
  for (let page = 0; page < 20; page++) {
    const out = await s3.send(
      new ListObjectVersionsCommand({
        Bucket: state.bucket,
        Prefix: state.key,
        ...(keyMarker ? { KeyMarker: keyMarker } : {}),
        ...(versionIdMarker ? { VersionIdMarker: versionIdMarker } : {}),
      }),
    );
    if ((out.Versions ?? []).some((v) => v.Key === state.key && v.VersionId === versionId)) return 'version';
    if ((out.DeleteMarkers ?? []).some((m) => m.Key === state.key && m.VersionId === versionId)) return 'delete-marker';
    if (!out.IsTruncated || !out.NextKeyMarker) return undefined;
    keyMarker = out.NextKeyMarker;
    versionIdMarker = out.NextVersionIdMarker;
  }
  return undefined;
}

/** The current state, or undefined when the object is deleted (its newest version is a delete marker) or absent. */
export async function readCurrentState(s3: S3Client, state: TfState): Promise<StateObject | undefined> {
  try {
    return await getStateObject(s3, state);
  } catch (error) {
    if (awsErrorName(error) === 'NoSuchKey') return undefined;
    return aws(stateCall(state), () => Promise.reject(error));
  }
}

/** The current version's ID, or undefined when the state object is deleted or absent. */
export async function currentVersionId(s3: S3Client, state: TfState): Promise<string | undefined> {
  try {
    const out = await s3.send(new HeadObjectCommand({ Bucket: state.bucket, Key: state.key }));
    return out.VersionId ?? 'null';
  } catch (error) {
    const name = awsErrorName(error);
    if (name === 'NotFound' || name === 'NoSuchKey') return undefined;
    return aws(stateCall(state), () => Promise.reject(error));
  }
}

async function summarizeVersion(s3: S3Client, state: TfState, versionId: string): Promise<StateSummary> {
  const call = { action: 's3:GetObjectVersion', resource: s3ObjectArn(state.bucket, state.key), bucket: state.bucket, key: state.key, versionId };
  return aws(call, async () => {
    // Terraform writes version, terraform_version, serial and lineage first: 4 KiB is plenty,
    // and a large state is not downloaded just to list it.
    const head = await s3.send(new GetObjectCommand({ Bucket: state.bucket, Key: state.key, VersionId: versionId, Range: 'bytes=0-4095' }));
    const summary = summarizeState((await head.Body?.transformToString('utf8')) ?? '');
    if (complete(summary)) return summary;
    const full = await s3.send(new GetObjectCommand({ Bucket: state.bucket, Key: state.key, VersionId: versionId }));
    return summarizeState((await full.Body?.transformToString('utf8')) ?? '');
  });
}

/**
 * The newest `limit` versions and delete markers of the state object, newest first. Lists with the
 * key as prefix (other keys such as `<key>.tflock` are skipped) and reads each version's summary.
 */
export async function listStateVersions(s3: S3Client, state: TfState, limit: number): Promise<StateVersion[]> {
  const call = { action: 's3:ListBucketVersions', resource: s3BucketArn(state.bucket), bucket: state.bucket };
  const found: Array<StateVersion & { order: number }> = [];
  let keyMarker: string | undefined;
  let versionIdMarker: string | undefined;
  let order = 0;
  for (;;) {
    const page = await aws(call, () =>
      s3.send(
        new ListObjectVersionsCommand({
          Bucket: state.bucket,
          Prefix: state.key,
          MaxKeys: Math.min(1000, limit + 10),
          ...(keyMarker ? { KeyMarker: keyMarker } : {}),
          ...(versionIdMarker ? { VersionIdMarker: versionIdMarker } : {}),
        }),
      ),
    );
    let otherKey = false;
    for (const v of page.Versions ?? []) {
      if (v.Key !== state.key) {
        otherKey = true;
        continue;
      }
      found.push({
        versionId: v.VersionId ?? 'null',
        ...(v.LastModified ? { lastModified: v.LastModified } : {}),
        ...(v.Size !== undefined ? { size: v.Size } : {}),
        ...(v.ETag ? { etag: v.ETag } : {}),
        isLatest: v.IsLatest === true,
        deleteMarker: false,
        order: order++,
      });
    }
    for (const m of page.DeleteMarkers ?? []) {
      if (m.Key !== state.key) {
        otherKey = true;
        continue;
      }
      found.push({
        versionId: m.VersionId ?? 'null',
        ...(m.LastModified ? { lastModified: m.LastModified } : {}),
        isLatest: m.IsLatest === true,
        deleteMarker: true,
        order: order++,
      });
    }
    // The key itself sorts before every longer key with it as prefix, so once another key shows
    // up (or enough entries are in), the newest ones of this key are all here.
    if (!page.IsTruncated || otherKey || found.length >= limit) break;
    keyMarker = page.NextKeyMarker;
    versionIdMarker = page.NextVersionIdMarker;
    if (!keyMarker) break;
  }
  found.sort(
    (a, b) =>
      Number(b.isLatest) - Number(a.isLatest) ||
      (b.lastModified?.getTime() ?? 0) - (a.lastModified?.getTime() ?? 0) ||
      // Same second: within each list S3 gives a key's entries newest first, so that order is kept;
      // how versions and delete markers interleave within one second is not recoverable (the SDK
      // returns them as two lists), so versions come first there.
      Number(a.deleteMarker) - Number(b.deleteMarker) ||
      a.order - b.order,
  );
  const newest = found.slice(0, limit).map(({ order: _order, ...v }) => v);
  for (const v of newest) {
    if (!v.deleteMarker) v.summary = await summarizeVersion(s3, state, v.versionId);
  }
  return newest;
}
