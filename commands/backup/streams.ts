/**
 * Pass-through streams that hash and count what flows through them, in bounded memory.
 */
import { createHash } from 'node:crypto';
import type { Hash } from 'node:crypto';
import { Transform } from 'node:stream';
import type { TransformCallback } from 'node:stream';
import { UserFacingError } from '../../src/core/types.ts';

/** Counts bytes and computes SHA-256 of everything that passes. */
export class HashCounter extends Transform {
  bytes = 0;
  private readonly hash: Hash = createHash('sha256');
  private digestHex: string | undefined;

  constructor(private readonly onBytes?: (bytes: number) => void) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    this.onBytes?.(this.bytes);
    callback(null, chunk);
  }

  /** Hex SHA-256 of all bytes; call once the stream has ended. */
  digest(): string {
    this.digestHex ??= this.hash.digest('hex');
    return this.digestHex;
  }
}

export class ChecksumMismatchError extends UserFacingError {}

/**
 * Feeds a consumer (pg_restore) while checking the stream against the recorded SHA-256 and size.
 * The last chunk is held back until the whole stream has been hashed: only when the checksum
 * matches does the consumer receive its final bytes. A custom-format archive cannot be read to
 * its end without them, so a consumer never finishes (or commits) a corrupted or truncated
 * backup: on a mismatch the stream fails, the consumer sees a premature end and fails too.
 */
export class VerifyingStream extends Transform {
  bytes = 0;
  /** True once the whole stream was read and matched the expected checksum and size. */
  verified = false;
  actualSha256: string | undefined;
  private readonly hash: Hash = createHash('sha256');
  private held: Buffer | undefined;

  constructor(
    private readonly expected: { sha256: string; size?: number; what: string },
    private readonly onBytes?: (bytes: number) => void,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    this.onBytes?.(this.bytes);
    const previous = this.held;
    this.held = chunk;
    callback(null, previous);
  }

  override _flush(callback: TransformCallback): void {
    this.actualSha256 = this.hash.digest('hex');
    if (this.expected.size !== undefined && this.bytes !== this.expected.size) {
      callback(new ChecksumMismatchError(`${this.expected.what} is ${this.bytes} bytes but ${this.expected.size} were recorded: the object is truncated or altered`));
      return;
    }
    if (this.actualSha256 !== this.expected.sha256) {
      callback(
        new ChecksumMismatchError(
          `${this.expected.what} has SHA-256 ${this.actualSha256.slice(0, 12)}… but ${this.expected.sha256.slice(0, 12)}… was recorded: the object is corrupted or altered`,
        ),
      );
      return;
    }
    this.verified = true;
    if (this.held) this.push(this.held);
    this.held = undefined;
    callback();
  }
}
