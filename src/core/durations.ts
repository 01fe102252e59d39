/**
 * Durations as people write them ("90s", "15m", "2h", "1d"): one parser for configuration values
 * and command flags alike, and the two ways the bot shows a length of time.
 */
import ms from 'ms';
import { UsageError } from './types.ts';
import { notADuration } from './args.ts';

/** The form of a configured duration (the config schema checks it before anything reads it). */
export const DURATION_FORM = /^(\d+)(ms|s|m|h|d)$/;

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** Milliseconds of a configured duration such as "15m". */
export function durationMs(text: string): number {
  const m = DURATION_FORM.exec(text);
  if (!m) throw new Error(`not a duration: ${text}`);
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}

/** Milliseconds of a `--flag` duration typed by a person, within [min, max]; a UsageError says what is wrong. */
export function durationFlag(text: string, flag: string, min: number, max: number): number {
  if (!/^\d{1,6}(s|m|h|d)$/.test(text)) throw new UsageError(notADuration(flag, text));
  const value = durationMs(text);
  if (value < min || value > max) throw new UsageError(`--${flag} must be between ${ms(min, { long: true })} and ${ms(max, { long: true })} (got ${text})`);
  return value;
}

/**
 * A length of time in its two largest units, for tables and fields: "45s", "3m 12s", "2h 5m",
 * "3d 4h" (hours up to 48), a zero second unit left out ("15m", "2h"); negative (clock skew) is 0s.
 */
export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  const two = (big: number, bigUnit: string, small: number, smallUnit: string) => (small ? `${big}${bigUnit} ${small}${smallUnit}` : `${big}${bigUnit}`);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return two(minutes, 'm', seconds % 60, 's');
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return two(hours, 'h', minutes % 60, 'm');
  return two(Math.floor(hours / 24), 'd', hours % 24, 'h');
}

/** A length of time in words a tired reader does not misread, for sentences: "45 s", "3 min", "2 h 5 min", "2 h", "3 d". */
export function spokenDuration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  if (minutes < 24 * 60) return minutes % 60 ? `${Math.floor(minutes / 60)} h ${minutes % 60} min` : `${minutes / 60} h`;
  return `${Math.floor(minutes / (24 * 60))} d`;
}
