/**
 * The backup objects in S3: their metadata, listing, final metadata by server-side copy,
 * verification tags, deletion and clean-up of unfinished multipart uploads.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectTaggingCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import type { CompletedPart, S3Client } from '@aws-sdk/client-s3';
import { UserFacingError } from '../../src/core/types.ts';
import { readFormat } from './format.ts';
import { compareNewestFirst, parseBackupName } from './names.ts';
import type { BackupName } from './names.ts';

/** Where backups live. */
export interface BackupStore {
  s3: S3Client;
  bucket: string;
  /** Key prefix, e.g. "db/" (may be empty). */
  prefix: string;
}

/** What a backup records about itself (S3 user metadata, all ASCII). */
export interface BackupMetadata {
  database: string;
  /** How the bytes are stored (see format.ts); absent: the first (gzip) format. */
  format?: string;
  sha256?: string;
  size?: number;
  pgDumpVersion?: string;
  serverVersion?: string;
  startedBy?: string;
  reason?: string;
  jobId?: string;
  /** From the start of pg_dump to the last byte uploaded. */
  durationMs?: number;
}

export function encodeMetadata(meta: BackupMetadata): Record<string, string> {
  const out: Record<string, string> = { database: meta.database, format: readFormat(meta.format) };
  if (meta.sha256) out.sha256 = meta.sha256;
  if (meta.size !== undefined) out.size = String(meta.size);
  if (meta.pgDumpVersion) out['pg-dump-version'] = meta.pgDumpVersion;
  if (meta.serverVersion) out['server-version'] = meta.serverVersion;
  // Free text is percent-encoded: S3 metadata travels in HTTP headers (ASCII only).
  if (meta.startedBy) out['started-by'] = encodeURIComponent(meta.startedBy.slice(0, 100));
  if (meta.reason) out.reason = encodeURIComponent(meta.reason.slice(0, 300));
  if (meta.jobId) out['job-id'] = encodeURIComponent(meta.jobId.slice(0, 200));
  if (meta.durationMs !== undefined) out['duration-ms'] = String(Math.round(meta.durationMs));
  return out;
}

function decode(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

export function decodeMetadata(raw: Record<string, string> | undefined, fallbackDatabase: string): BackupMetadata {
  const m = raw ?? {};
  const whole = (value: string | undefined) => (value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined);
  return {
    database: m.database ?? fallbackDatabase,
    format: readFormat(m.format),
    sha256: m.sha256 && /^[0-9a-f]{64}$/.test(m.sha256) ? m.sha256 : undefined,
    size: whole(m.size),
    pgDumpVersion: m['pg-dump-version'],
    serverVersion: m['server-version'],
    startedBy: decode(m['started-by']),
    reason: decode(m.reason),
    jobId: decode(m['job-id']),
    durationMs: whole(m['duration-ms']),
  };
}

export interface BackupObject extends BackupName {
  key: string;
  size: number;
  lastModified?: Date;
  etag?: string;
}

export interface BackupDetails extends BackupObject {
  meta: BackupMetadata;
  versionId?: string;
  verification?: { at: string; result: 'ok' | 'failed' };
}

/** S3 errors → one sentence that names the bucket and what to check. */
export function s3Failure(error: unknown, action: string, bucket: string): UserFacingError {
  if (error instanceof UserFacingError) return error;
  const err = error as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const name = err.name ?? 'Error';
  if (name === 'NoSuchBucket') return new UserFacingError(`S3 bucket ${bucket} does not exist (backup.bucket)`);
  if (name === 'AccessDenied' || err.$metadata?.httpStatusCode === 403) {
    return new UserFacingError(`S3 denied ${action} on bucket ${bucket}`, 'The bot\'s AWS role needs s3:PutObject, GetObject, ListBucket, DeleteObject, AbortMultipartUpload and Put/GetObjectTagging on the backup bucket.');
  }
  return new UserFacingError(`S3 ${action} on bucket ${bucket} failed: ${name}${err.message && err.message !== name ? `: ${err.message}` : ''}`);
}

/** Every backup object directly under the prefix, newest first. Other objects are ignored. */
export async function listBackupObjects(store: BackupStore): Promise<BackupObject[]> {
  const found: BackupObject[] = [];
  let token: string | undefined;
  do {
    let page;
    try {
      page = await store.s3.send(new ListObjectsV2Command({ Bucket: store.bucket, Prefix: store.prefix, ContinuationToken: token }));
    } catch (error) {
      throw s3Failure(error, 'ListObjectsV2', store.bucket);
    }
    for (const obj of page.Contents ?? []) {
      if (!obj.Key) continue;
      const rest = obj.Key.slice(store.prefix.length);
      if (rest.includes('/')) continue;
      const parsed = parseBackupName(rest);
      if (!parsed) continue;
      found.push({ ...parsed, key: obj.Key, size: obj.Size ?? 0, lastModified: obj.LastModified, etag: obj.ETag });
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return found.sort(compareNewestFirst);
}

/** Metadata and verification tags of one backup. */
export async function backupDetails(store: BackupStore, key: string): Promise<BackupDetails> {
  const name = key.slice(store.prefix.length);
  const parsed = parseBackupName(name);
  if (!key.startsWith(store.prefix) || !parsed) throw new UserFacingError(`${name} is not a backup name (expected e.g. autostack-20261128-0200.dump)`);
  let head;
  try {
    head = await store.s3.send(new HeadObjectCommand({ Bucket: store.bucket, Key: key }));
  } catch (error) {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status === 404 || (error as { name?: string }).name === 'NotFound') {
      throw new UserFacingError(`backup ${name} not found in s3://${store.bucket}/${store.prefix}`, 'See `/autostack backup list` for the names.');
    }
    throw s3Failure(error, 'HeadObject', store.bucket);
  }
  let verification: BackupDetails['verification'];
  try {
    const tags = await store.s3.send(new GetObjectTaggingCommand({ Bucket: store.bucket, Key: key }));
    const at = tags.TagSet?.find((t) => t.Key === 'verified-at')?.Value;
    const result = tags.TagSet?.find((t) => t.Key === 'verify-result')?.Value;
    if (at && (result === 'ok' || result === 'failed')) verification = { at, result };
  } catch {
    // Tags are informational; a missing permission must not hide the backup.
  }
  return {
    ...parsed,
    key,
    size: head.ContentLength ?? 0,
    lastModified: head.LastModified,
    etag: head.ETag,
    versionId: head.VersionId,
    meta: decodeMetadata(head.Metadata, parsed.database),
    verification,
  };
}

/** Records the outcome of a verification as object tags (replaces earlier ones). */
export async function recordVerification(store: BackupStore, key: string, result: 'ok' | 'failed', at: Date): Promise<void> {
  await store.s3.send(
    new PutObjectTaggingCommand({
      Bucket: store.bucket,
      Key: key,
      Tagging: { TagSet: [{ Key: 'verified-at', Value: at.toISOString() }, { Key: 'verify-result', Value: result }] },
    }),
  );
}

function copySource(bucket: string, key: string, versionId?: string): string {
  const path = `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
  return versionId && versionId !== 'null' ? `${path}?versionId=${encodeURIComponent(versionId)}` : path;
}

/** Largest object CopyObject accepts in one request. */
export const SINGLE_COPY_LIMIT = 5 * 1024 ** 3;

/**
 * Rewrites an object's metadata in place (S3 metadata cannot be changed after upload, and the
 * checksum is known only at the end of the stream): CopyObject onto itself with
 * MetadataDirective REPLACE, or a multipart copy above 5 GiB. The copy is conditional on the
 * uploaded ETag. In a versioned bucket the uploaded version (identical bytes, without checksum)
 * is then removed so only the final version remains. Returns the final version id.
 */
export async function replaceMetadata(
  store: BackupStore,
  key: string,
  source: { etag?: string; versionId?: string; size: number },
  metadata: Record<string, string>,
  options: { singleCopyLimit?: number; copyPartSize?: number } = {},
): Promise<string | undefined> {
  const { s3, bucket } = store;
  const limit = options.singleCopyLimit ?? SINGLE_COPY_LIMIT;
  const src = copySource(bucket, key, source.versionId);
  let finalVersion: string | undefined;
  if (source.size <= limit) {
    const out = await s3.send(
      new CopyObjectCommand({
        Bucket: bucket,
        Key: key,
        CopySource: src,
        CopySourceIfMatch: source.etag,
        MetadataDirective: 'REPLACE',
        ContentType: 'application/octet-stream',
        Metadata: metadata,
        // A fresh full-object checksum for the copy (the upload's was per part), so every
        // download is checked end to end by the SDK too.
        ChecksumAlgorithm: 'CRC32',
      }),
    );
    finalVersion = out.VersionId;
  } else {
    const partSize = Math.max(options.copyPartSize ?? 512 * 1024 ** 2, Math.ceil(source.size / 10_000), 5 * 1024 ** 2);
    const created = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ContentType: 'application/octet-stream', Metadata: metadata }));
    const uploadId = created.UploadId;
    try {
      const ranges: Array<{ n: number; start: number; end: number }> = [];
      for (let start = 0, n = 1; start < source.size; start += partSize, n++) ranges.push({ n, start, end: Math.min(source.size, start + partSize) - 1 });
      const parts: CompletedPart[] = [];
      let next = 0;
      const worker = async () => {
        for (let i = next++; i < ranges.length; i = next++) {
          const r = ranges[i]!;
          const out = await s3.send(
            new UploadPartCopyCommand({
              Bucket: bucket,
              Key: key,
              UploadId: uploadId,
              PartNumber: r.n,
              CopySource: src,
              CopySourceIfMatch: source.etag,
              CopySourceRange: `bytes=${r.start}-${r.end}`,
            }),
          );
          parts.push({ PartNumber: r.n, ETag: out.CopyPartResult?.ETag });
        }
      };
      await Promise.all(Array.from({ length: Math.min(4, ranges.length) }, worker));
      parts.sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
      const done = await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts } }));
      finalVersion = done.VersionId;
    } catch (error) {
      await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId })).catch(() => undefined);
      throw error;
    }
  }
  if (source.versionId && source.versionId !== 'null' && finalVersion && finalVersion !== source.versionId) {
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key, VersionId: source.versionId }));
  }
  return finalVersion;
}

/** Aborts every unfinished multipart upload of exactly this key; returns how many. */
export async function abortUnfinishedUploads(store: BackupStore, key: string): Promise<number> {
  let aborted = 0;
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  for (;;) {
    const page = await store.s3.send(
      new ListMultipartUploadsCommand({ Bucket: store.bucket, Prefix: key, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }),
    );
    for (const upload of page.Uploads ?? []) {
      if (upload.Key !== key || !upload.UploadId) continue;
      await store.s3.send(new AbortMultipartUploadCommand({ Bucket: store.bucket, Key: key, UploadId: upload.UploadId }));
      aborted += 1;
    }
    if (!page.IsTruncated) return aborted;
    keyMarker = page.NextKeyMarker;
    uploadIdMarker = page.NextUploadIdMarker;
  }
}

/**
 * Deletes a key; with version ids, those versions are removed permanently (used for objects this
 * module just wrote), otherwise a plain delete (a delete marker in a versioned bucket).
 */
export async function deleteBackupObject(store: BackupStore, key: string, versionIds: Array<string | undefined> = []): Promise<void> {
  const versions = versionIds.filter((v): v is string => Boolean(v) && v !== 'null');
  if (versions.length === 0) {
    await store.s3.send(new DeleteObjectCommand({ Bucket: store.bucket, Key: key }));
    return;
  }
  for (const versionId of versions) await store.s3.send(new DeleteObjectCommand({ Bucket: store.bucket, Key: key, VersionId: versionId }));
}

/** Deletes keys in batches of 1000; returns the keys S3 reported as not deleted. */
export async function deleteKeys(store: BackupStore, keys: string[]): Promise<Array<{ key: string; error: string }>> {
  const failed: Array<{ key: string; error: string }> = [];
  for (let i = 0; i < keys.length; i += 1000) {
    const batch = keys.slice(i, i + 1000);
    const out = await store.s3.send(
      new DeleteObjectsCommand({ Bucket: store.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }),
    );
    for (const e of out.Errors ?? []) failed.push({ key: e.Key ?? '?', error: e.Code ?? e.Message ?? 'error' });
  }
  return failed;
}
