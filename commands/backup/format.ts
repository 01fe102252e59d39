/**
 * The formats backup objects are stored in, named in their `format` metadata:
 *
 * - `pg_dump-custom`: pg_dump's custom format compressed by pg_dump itself (gzip, level 6). What
 *   the bot wrote first, and what an object without a `format` entry is.
 * - `pg_dump-custom+zstd`: pg_dump's custom format written uncompressed (`--compress=0`) and
 *   compressed by the bot with Zstandard (node:zlib, Node.js 22.15 / 23.8 and later). pg_dump's
 *   own gzip runs on one core at a few tens of MB/s and was the whole cost of a backup; zstd is
 *   several times faster at a smaller size. A restore by hand: `zstd -d < file | pg_restore ...`.
 *
 * Backups are written in the zstd format where the runtime has it, in the old one otherwise;
 * restore and verify read both, decompressing while streaming. The checksum and size in the
 * metadata are those of the stored bytes.
 */
import type { Transform } from 'node:stream';
import zlib from 'node:zlib';
import { UserFacingError } from '../../src/core/types.ts';

export const GZIP_FORMAT = 'pg_dump-custom';
export const ZSTD_FORMAT = 'pg_dump-custom+zstd';
export type BackupFormat = typeof GZIP_FORMAT | typeof ZSTD_FORMAT;

/** zstd level: 3 is its default, well ahead of gzip -6 in speed at a smaller size. */
export const ZSTD_LEVEL = 3;

/** node:zlib's zstd streams (absent before Node.js 22.15 / 23.8). */
interface ZstdZlib {
  createZstdCompress(options: { params: Record<number, number> }): Transform;
  createZstdDecompress(): Transform;
  constants: { ZSTD_c_compressionLevel: number };
}

function zstd(): ZstdZlib | undefined {
  const candidate = zlib as unknown as Partial<ZstdZlib>;
  return typeof candidate.createZstdCompress === 'function' && typeof candidate.createZstdDecompress === 'function' ? (candidate as ZstdZlib) : undefined;
}

/** The format new backups are written in on this runtime. */
export function writeFormat(): BackupFormat {
  return zstd() ? ZSTD_FORMAT : GZIP_FORMAT;
}

/** The `format` metadata entry read back: absent means the first (gzip) format. */
export function readFormat(value: string | undefined): string {
  return value ?? GZIP_FORMAT;
}

/** pg_dump's compression argument for a format. */
export function pgDumpCompression(format: BackupFormat): string {
  return format === ZSTD_FORMAT ? '--compress=0' : '--compress=6';
}

/** The stream that turns pg_dump's output into the stored bytes (none: stored as written). */
export function compressorFor(format: BackupFormat): Transform | undefined {
  if (format === GZIP_FORMAT) return undefined;
  const z = zstd();
  if (!z) throw new UserFacingError(`this Node.js (${process.version}) has no zstd; backups in ${format} need Node.js 22.15 or later`);
  return z.createZstdCompress({ params: { [z.constants.ZSTD_c_compressionLevel]: ZSTD_LEVEL } });
}

/**
 * The stream that turns stored bytes back into pg_dump's archive for pg_restore (none: stored as
 * the archive itself). A format this bot does not know is refused before anything is read.
 */
export function decompressorFor(format: string, what: string): Transform | undefined {
  if (format === GZIP_FORMAT) return undefined;
  if (format !== ZSTD_FORMAT) throw new UserFacingError(`${what} is stored as "${format}", a format this version of the bot cannot read`, 'Restore it with a newer version of the bot.');
  const z = zstd();
  if (!z) throw new UserFacingError(`${what} is compressed with zstd, which this Node.js (${process.version}) cannot read`, 'Run the bot on Node.js 22.15 or later.');
  return z.createZstdDecompress();
}
