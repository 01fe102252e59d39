/**
 * Redaction of secrets and tokens in text that is about to be shown (log lines, query text, error
 * messages). Every pattern is linear-time: no nested quantifiers and bounded repetitions, so a
 * hostile or very long log line cannot make the bot hang.
 */
import { SECRET_NAME_SOURCE, isSecretName } from '../../src/core/secret-keys.ts';

export const REDACTED = '[REDACTED]';

/** Lines longer than this are cut before redaction and display. */
export const MAX_LINE_LENGTH = 4000;


interface Rule {
  name: string;
  pattern: RegExp;
  replace: string | ((substring: string, ...groups: string[]) => string);
}

const RULES: Rule[] = [
  // PEM private keys on one line (or the header of a multi-line one).
  { name: 'private key', pattern: /-----BEGIN [A-Z ]{0,40}PRIVATE KEY-----[^-]{0,10000}(?:-----END [A-Z ]{0,40}PRIVATE KEY-----)?/g, replace: REDACTED },
  // HTTP authorization: `Authorization: Basic dXNlcjpwYXNz`, `authorization=Token abc`, and any `Bearer abc`.
  {
    name: 'authorization header',
    pattern: /\b(authorization["']?\s{0,10}[:=]\s{0,10}["']?)(Bearer|Basic|Token|Digest|Negotiate)(\s{1,10})[^\s"',;]{1,4096}/gi,
    replace: (_m, prefix: string, scheme: string, space: string) => `${prefix}${scheme}${space}${REDACTED}`,
  },
  { name: 'bearer', pattern: /\b(Bearer)(\s{1,10})[A-Za-z0-9\-._~+/]{6,4096}=*/gi, replace: (_m, scheme: string, space: string) => `${scheme}${space}${REDACTED}` },
  // JSON Web Tokens (header.payload.signature, base64url; the header always starts with eyJ).
  { name: 'jwt', pattern: /\beyJ[A-Za-z0-9_-]{4,4096}\.[A-Za-z0-9_-]{4,8192}\.[A-Za-z0-9_-]{0,4096}/g, replace: '[REDACTED_JWT]' },
  // Slack tokens (bot, user, app-level, config, refresh) and incoming webhook URLs.
  { name: 'slack token', pattern: /\bxox[abprsoe]-[A-Za-z0-9-]{6,256}/g, replace: '[REDACTED_SLACK_TOKEN]' },
  { name: 'slack app token', pattern: /\bxapp-\d-[A-Za-z0-9-]{6,256}/g, replace: '[REDACTED_SLACK_TOKEN]' },
  { name: 'slack webhook', pattern: /https:\/\/hooks\.slack\.com\/(?:services|workflows|triggers)\/[A-Za-z0-9/_-]{6,256}/g, replace: 'https://hooks.slack.com/[REDACTED]' },
  // GitHub and Google credentials.
  { name: 'github token', pattern: /\b(?:gh[pousr]_[A-Za-z0-9]{20,255}|github_pat_[A-Za-z0-9_]{20,255})/g, replace: '[REDACTED_GITHUB_TOKEN]' },
  { name: 'google client secret', pattern: /\bGOCSPX-[A-Za-z0-9_-]{10,64}/g, replace: '[REDACTED_GOOGLE_SECRET]' },
  { name: 'google api key', pattern: /\bAIza[A-Za-z0-9_-]{35}\b/g, replace: '[REDACTED_GOOGLE_KEY]' },
  // AWS access key IDs (long-term AKIA, temporary ASIA, and the other unique-ID prefixes).
  { name: 'aws access key', pattern: /\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|APKA|AROA|ASCA)[A-Z0-9]{16}\b/g, replace: '[REDACTED_AWS_KEY]' },
  // Passwords in URLs: scheme://user:password@host.
  { name: 'url password', pattern: /\b([a-zA-Z][a-zA-Z0-9+.-]{0,20}:\/\/[^\s:/@?#]{0,256}:)[^\s@/?#]{1,512}@/g, replace: '$1***@' },
  // SQL: ALTER ROLE x PASSWORD 'secret' / CREATE USER ... PASSWORD '...'.
  { name: 'sql password', pattern: /\b(PASSWORD\s{1,10})'(?:[^'\\]|\\.|''){0,1024}'/gi, replace: `$1'***'` },
  // key=value, key: value, "key": "value", key='value' for secret-looking keys.
  {
    name: 'secret key value',
    pattern: new RegExp(
      `(${SECRET_NAME_SOURCE})(["']?\\s{0,10}[=:]\\s{0,10})("(?:[^"\\\\]|\\\\.){0,2048}"|'(?:[^'\\\\]|\\\\.){0,2048}'|[^\\s"'&,;}\\]]{1,2048})`,
      'gi',
    ),
    replace: (match: string, key: string, sep: string, value: string) => {
      if (isAlreadyRedacted(value)) return match;
      // A bare scheme word after authorization: the scheme rule already hid the credential.
      if (/^(Bearer|Basic|Token|Digest)$/i.test(value)) return match;
      const quote = value.startsWith('"') ? '"' : value.startsWith("'") ? "'" : '';
      return `${key}${sep}${quote}${REDACTED}${quote}`;
    },
  },
];

function isAlreadyRedacted(value: string): boolean {
  const bare = value.replace(/^["']|["']$/g, '');
  return bare.startsWith('[REDACTED') || bare === '***' || bare === '';
}

/** Redacts secrets and tokens in one line (or any short text). Over-long input is cut first. */
export function redact(text: string): string {
  let out = text.length > MAX_LINE_LENGTH ? `${text.slice(0, MAX_LINE_LENGTH)}… [${text.length - MAX_LINE_LENGTH} more characters cut]` : text;
  for (const rule of RULES) {
    out = out.replace(rule.pattern, rule.replace as (substring: string, ...args: string[]) => string);
  }
  return out;
}

/** Redacts each line of a multi-line text. */
export function redactLines(text: string): string {
  return text.split('\n').map(redact).join('\n');
}

/**
 * A connection string or URL fit for display: the password (if any) becomes `***`; query
 * parameters that look like secrets (`password=`, `sslpassword=`, `token=`) are redacted too.
 */
export function maskUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    for (const key of [...parsed.searchParams.keys()]) {
      if (isSecretName(key)) parsed.searchParams.set(key, '***');
    }
    return parsed.toString();
  } catch {
    return redact(url);
  }
}
