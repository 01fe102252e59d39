/**
 * Command-line tokenizing for `/autostack ...`. Input is data: quotes group words, nothing is
 * ever interpreted by a shell, and characters a person cannot mean are refused up front.
 */
import type { Args, Verb } from './types.ts';
import { UsageError } from './types.ts';
import { ownValue } from './keys.ts';

export const MAX_INPUT_LENGTH = 4000;

// Control characters other than tab; Slack never sends them for typed text.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f]/;

/** Splits text into words; single or double quotes group, backslash escapes the next character. */
export function tokenize(text: string): string[] {
  if (text.length > MAX_INPUT_LENGTH) throw new UsageError(`input is ${text.length} characters; the limit is ${MAX_INPUT_LENGTH}`);
  if (CONTROL.test(text)) throw new UsageError('input contains control characters; type the command as plain text');
  const words: string[] = [];
  let current = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  // Slack sends typographic quotes when the client auto-formats; treat them as plain quotes.
  const normalized = text.replace(/[\u201c\u201d]/g, '"').replace(/[\u2018\u2019]/g, "'");
  for (let i = 0; i < normalized.length; i++) {
    const ch = normalized[i]!;
    if (quote) {
      if (ch === quote) quote = null;
      else if (ch === '\\' && quote === '"' && i + 1 < normalized.length) current += normalized[++i];
      else current += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inWord = true;
    } else if (ch === '\\' && i + 1 < normalized.length) {
      current += normalized[++i];
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(current);
      current = '';
      inWord = false;
    } else {
      current += ch;
      inWord = true;
    }
  }
  if (quote) throw new UsageError(`unclosed ${quote} quote`);
  if (inWord) words.push(current);
  return words;
}

/** Unit words people type after a number, and the unit a duration argument takes. */
const UNIT_WORDS: Record<string, string> = {
  s: 's', sec: 's', secs: 's', second: 's', seconds: 's',
  m: 'm', min: 'm', mins: 'm', minute: 'm', minutes: 'm',
  h: 'h', hr: 'h', hrs: 'h', hour: 'h', hours: 'h',
  d: 'd', day: 'd', days: 'd',
};

/** "2h" for a duration written in words ("2 hours", "2hours", "2 hrs"); undefined for anything else. */
export function durationInWords(text: string): string | undefined {
  const match = /^\s*(\d{1,6})\s*([a-z]+)\s*$/i.exec(text);
  const unit = match ? ownValue(UNIT_WORDS, match[2]!.toLowerCase()) : undefined;
  return unit ? `${match![1]}${unit}` : undefined;
}

/** The message for a duration argument that is not one, with the spelling to use when it was written in words. */
export function notADuration(flag: string, text: string): string {
  const spelled = durationInWords(text);
  return `--${flag} must be a duration such as 15m, 2h or 1d (got "${text.slice(0, 40)}"${spelled ? `: use ${spelled}` : ''})`;
}

/** Splits words into positionals and the verb's declared flags (`--name value`, `--name=value`, `--switch`). */
export function parseArgs(words: string[], verb: Pick<Verb, 'flags' | 'positional' | 'path' | 'usage'>): Args {
  const declared = verb.flags ?? {};
  const args: Args = { positional: [], flags: {} };
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    if (word.startsWith('--') && word.length > 2) {
      const [name, inline] = splitFlag(word.slice(2));
      const kind = ownValue(declared, name);
      if (!kind) {
        const known = Object.keys(declared).map((f) => `--${f}`);
        throw new UsageError(`unknown option --${name}${known.length ? ` (options: ${known.join(', ')})` : ' (this command takes no options)'}`);
      }
      if (kind === 'boolean') {
        if (inline !== undefined) throw new UsageError(`--${name} takes no value`);
        args.flags[name] = true;
      } else {
        const value = inline ?? words[++i];
        if (value === undefined || value === '') throw new UsageError(`--${name} needs a value`);
        // "--since 2 hours": the number and its unit arrived as two words.
        const spelled = inline === undefined && /^\d+$/.test(value) && words[i + 1] !== undefined ? durationInWords(`${value} ${words[i + 1]}`) : undefined;
        if (spelled) throw new UsageError(`--${name} takes a duration written as one word: use ${spelled} (not "${value} ${words[i + 1]}")`);
        args.flags[name] = value;
      }
    } else {
      args.positional.push(word);
    }
  }
  checkArgs(args, verb);
  return args;
}

/**
 * Arguments built by code (a button's request) meet the same rules as typed ones: declared
 * flags of the declared kind, and the declared number of positionals. Throws UsageError.
 */
export function checkArgs(args: Args, verb: Pick<Verb, 'flags' | 'positional'>): void {
  const declared = verb.flags ?? {};
  for (const [name, value] of Object.entries(args.flags)) {
    const kind = ownValue(declared, name);
    if (!kind || (kind === 'boolean') !== (value === true)) throw new UsageError(`unknown option --${name}`);
  }
  const { min, max } = verb.positional ?? { min: 0, max: 0 };
  if (args.positional.length < min || args.positional.length > max) {
    const got = args.positional.length;
    const expected = min === max ? `${min}` : `${min} to ${max}`;
    throw new UsageError(`expected ${expected} argument${max === 1 ? '' : 's'}, got ${got}`);
  }
}

function splitFlag(text: string): [string, string | undefined] {
  const eq = text.indexOf('=');
  return eq === -1 ? [text, undefined] : [text.slice(0, eq), text.slice(eq + 1)];
}
