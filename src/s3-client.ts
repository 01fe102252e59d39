/** The bot's S3 client (its own module: a process that only needs S3 loads nothing else). */
import { S3Client } from '@aws-sdk/client-s3';
import type { S3ClientConfig } from '@aws-sdk/client-s3';

/**
 * An S3 client that sends binary request bodies (backup parts) as `UNSIGNED-PAYLOAD`, as the
 * AWS SDKs for Java and Go do for S3 over HTTPS. Otherwise the SDK hashes every 8 MiB part with
 * SHA-256 on the event loop to sign it (~20 ms each), and every Slack acknowledgement arriving
 * meanwhile waits. The bytes stay checked: each part carries a CRC32 checksum that S3 verifies,
 * the connection is TLS, and the backup's own SHA-256 is recorded and checked by verify and
 * restore.
 */
export function createS3Client(config: S3ClientConfig): S3Client {
  const client = new S3Client(config);
  client.middlewareStack.add(
    (next) => (args) => {
      const request = args.request as { headers?: Record<string, string>; body?: unknown };
      if (request.headers && ArrayBuffer.isView(request.body)) request.headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
      return next(args);
    },
    { step: 'build', name: 'unsignedBinaryPayload' },
  );
  return client;
}
