/**
 * Durations as people write them ("90s", "15m", "2h", "1d"): one parser for configuration values
 * and command flags alike.
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
