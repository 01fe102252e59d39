import { describe, expect, it } from 'vitest';
import { MAX_LINE_LENGTH, maskUrl, redact, redactLines } from '../../commands/shared/redact.ts';

const JWT = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c';

describe('redact', () => {
  it.each([
    ['bearer token', 'GET /api/me Authorization: Bearer abc123.def-456_ghi 200', 'abc123.def-456_ghi', 'Bearer [REDACTED]'],
    ['basic auth header', 'authorization: Basic dXNlcjpwYXNzd29yZA==', 'dXNlcjpwYXNzd29yZA==', 'Basic [REDACTED]'],
    ['JWT', `session cookie set to ${JWT} for user 42`, JWT, '[REDACTED_JWT]'],
    ['AWS access key id', 'using credentials AKIAIOSFODNN7EXAMPLE from env', 'AKIAIOSFODNN7EXAMPLE', '[REDACTED_AWS_KEY]'],
    ['AWS temporary key id', 'assumed ASIAY34FZKBOKMUTVV7A', 'ASIAY34FZKBOKMUTVV7A', '[REDACTED_AWS_KEY]'],
    ['AWS secret access key', 'aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', 'aws_secret_access_key = [REDACTED]'],
    ['password in URL', 'connecting to postgresql://autostack:s3cr3t-Pa55@db:5432/autostack', 's3cr3t-Pa55', 'postgresql://autostack:***@db:5432/autostack'],
    ['password=', 'login failed password=hunter2 user=bob', 'hunter2', 'password=[REDACTED] user=bob'],
    ['secret=', 'config loaded GITHUB_CLIENT_SECRET=0123456789abcdef0123', '0123456789abcdef0123', 'GITHUB_CLIENT_SECRET=[REDACTED]'],
    ['token= in a query string', 'GET /callback?code=abc&access_token=zz-top-99&state=x', 'zz-top-99', 'access_token=[REDACTED]&state=x'],
    ['quoted JSON value with spaces', '{"client_secret": "two words", "id": 1}', 'two words', '"client_secret": "[REDACTED]"'],
    ['Slack bot token', 'slack client xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx ready', 'xoxb-123456789012', '[REDACTED_SLACK_TOKEN]'],
    ['Slack app token', 'socket mode xapp-1-A0123456789-1234567890123-abcdef0123456789', 'xapp-1-A0123456789', '[REDACTED_SLACK_TOKEN]'],
    ['Slack webhook', 'posting to https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXX', 'XXXXXXXXXXXXXXXX', 'https://hooks.slack.com/[REDACTED]'],
    ['GitHub token', 'cloning with ghp_abcdefghijklmnopqrstuvwxyz0123456789', 'ghp_abcdefghijklmnopqrstuvwxyz0123456789', '[REDACTED_GITHUB_TOKEN]'],
    ['SQL password', "ALTER ROLE app WITH PASSWORD 'n3w''pw'", "n3w''pw", "PASSWORD '***'"],
  ])('%s', (_name, line, secret, expected) => {
    const out = redact(line);
    expect(out).not.toContain(secret);
    expect(out).toContain(expected);
  });

  it('keeps ordinary log lines as they are', () => {
    const line = '10.0.0.7 - - [10/Nov/2025:03:12:01 +0000] "GET /health HTTP/1.1" 200 12 "-" "kube-probe/1.29" basic configuration loaded; token refreshed';
    expect(redact(line)).toBe(line);
  });

  it('cuts over-long lines and stays fast on hostile input', () => {
    const long = `password=${'a'.repeat(MAX_LINE_LENGTH * 3)}`;
    const out = redact(long);
    expect(out.length).toBeLessThan(MAX_LINE_LENGTH + 100);
    expect(out).toContain('password=[REDACTED]');
    // Inputs that make naive patterns backtrack: these must finish (vitest's timeout would catch a hang).
    for (const evil of ['a_'.repeat(5000), `eyJ${'a'.repeat(5000)}`, 'password'.repeat(1000), `x://${'a:'.repeat(3000)}`]) {
      expect(typeof redact(evil)).toBe('string');
    }
  });

  it('redacts each line of a text', () => {
    expect(redactLines('a password=x\nb token=y')).toBe('a password=[REDACTED]\nb token=[REDACTED]');
  });
});

describe('maskUrl', () => {
  it('masks the password and secret query parameters', () => {
    expect(maskUrl('postgresql://app:p%40ss@db:5432/autostack?sslmode=require&password=x')).toBe('postgresql://app:***@db:5432/autostack?sslmode=require&password=***');
  });
  it('leaves a URL without a password alone', () => {
    expect(maskUrl('postgresql://db:5432/autostack')).toBe('postgresql://db:5432/autostack');
  });
  it('redacts something that is not a URL', () => {
    expect(maskUrl('host=db password=secret')).toBe('host=db password=[REDACTED]');
  });
});
