import { describe, expect, it } from 'vitest';
import { normalizeIp, normalizePeer, parseNetwork } from '../../../commands/incident/ratelimit/address.ts';
import { parseLogLine, parseNginxTime, pathOf, stripPrefixes } from '../../../commands/incident/ratelimit/parsers.ts';

const untrusted = { trustForwardedFor: false };
const trusted = { trustForwardedFor: true };

describe('ingress-nginx and nginx lines', () => {
  const ingress =
    '203.0.113.7 - - [10/Oct/2024:13:55:36 +0000] "GET /login?code=s3cr3t HTTP/1.1" 429 162 "-" "curl/8.0" 512 0.003 [autostack-backend-8000] [] 10.0.1.5:8000 162 0.003 429 5f2b8f0c1d';

  it('reads client, status, path without query and time from the ingress-nginx format', () => {
    expect(parseLogLine(ingress, untrusted)).toEqual({
      format: 'ingress-nginx',
      ip: '203.0.113.7',
      status: 429,
      path: '/login',
      timeMs: Date.UTC(2024, 9, 10, 13, 55, 36),
      forwarded: false,
    });
  });

  it('reads the plain combined format and converts the time zone offset', () => {
    const line = '198.51.100.23 - alice [10/Oct/2024:13:55:36 -0700] "POST /api/token HTTP/2.0" 200 43 "https://app.example/" "Mozilla/5.0 (X11; Linux)"';
    expect(parseLogLine(line, untrusted)).toMatchObject({ format: 'nginx', ip: '198.51.100.23', status: 200, path: '/api/token', timeMs: Date.UTC(2024, 9, 10, 20, 55, 36) });
  });

  it('normalizes IPv6 remote addresses', () => {
    const line = '2001:0db8:0000:0000:0000:0000:0000:0001 - - [10/Oct/2024:13:55:36 +0000] "GET / HTTP/1.1" 429 0 "-" "-"';
    expect(parseLogLine(line, untrusted)?.ip).toBe('2001:db8::1');
  });

  it('uses X-Forwarded-For (its first address) only when trusted', () => {
    const line = '10.0.3.4 - - [10/Oct/2024:13:55:36 +0000] "GET /login HTTP/1.1" 429 0 "-" "ua" "198.51.100.9, 10.0.0.1"';
    expect(parseLogLine(line, untrusted)).toMatchObject({ ip: '10.0.3.4', forwarded: true });
    expect(parseLogLine(line, trusted)).toMatchObject({ ip: '198.51.100.9', forwarded: true });
  });

  it('keeps the peer when the trusted X-Forwarded-For is empty or not an address', () => {
    const dash = '10.0.3.4 - - [10/Oct/2024:13:55:36 +0000] "GET / HTTP/1.1" 429 0 "-" "ua" "-"';
    const junk = '10.0.3.4 - - [10/Oct/2024:13:55:36 +0000] "GET / HTTP/1.1" 429 0 "-" "ua" "unknown"';
    expect(parseLogLine(dash, trusted)).toMatchObject({ ip: '10.0.3.4', forwarded: false });
    expect(parseLogLine(junk, trusted)).toMatchObject({ ip: '10.0.3.4', forwarded: true });
  });

  it('does not take a 429 elsewhere in the line for the status', () => {
    const line = '192.0.2.10 - - [10/Oct/2024:13:55:36 +0000] "GET /items/429 HTTP/1.1" 200 4290 "-" "agent/429" 429 0.429 [x] [] 10.0.0.1:8000 4290 0.429 200 429';
    expect(parseLogLine(line, untrusted)).toMatchObject({ status: 200, path: '/items/429' });
  });
});

describe('uvicorn lines', () => {
  it('reads the default access log with an IPv4 peer', () => {
    expect(parseLogLine('INFO:     198.51.100.4:51234 - "GET /login HTTP/1.1" 429 Too Many Requests', untrusted)).toEqual({
      format: 'uvicorn',
      ip: '198.51.100.4',
      status: 429,
      path: '/login',
      timeMs: undefined,
      forwarded: false,
    });
  });

  it('reads IPv6 peers as uvicorn prints them (no brackets, port last) and bracketed', () => {
    expect(parseLogLine('INFO:     2001:db8::5:51234 - "GET /login HTTP/1.1" 429 Too Many Requests', untrusted)?.ip).toBe('2001:db8::5');
    expect(parseLogLine('INFO:     [2001:db8::6]:51234 - "GET /x HTTP/1.1" 429 Too Many Requests', untrusted)?.ip).toBe('2001:db8::6');
    expect(parseLogLine('INFO:     ::1:51234 - "GET /x HTTP/1.1" 429 Too Many Requests', untrusted)?.ip).toBe('::1');
  });

  it('takes the time from the Kubernetes timestamp and drops the pod prefix', () => {
    const line = '[backend-7d9c-abcde] 2024-10-10T13:55:36.123456789Z INFO:     192.0.2.1:1 - "GET /x?token=abc HTTP/1.1" 429 Too Many Requests';
    expect(parseLogLine(line, untrusted)).toMatchObject({ format: 'uvicorn', ip: '192.0.2.1', path: '/x', timeMs: Date.UTC(2024, 9, 10, 13, 55, 36, 123) });
  });

  it('ignores terminal colours', () => {
    expect(parseLogLine('\x1b[32mINFO\x1b[0m:     192.0.2.1:1 - "GET /x HTTP/1.1" \x1b[31m429 Too Many Requests\x1b[0m', untrusted)).toMatchObject({ ip: '192.0.2.1', status: 429 });
  });
});

describe('JSON lines', () => {
  it('reads the common key names', () => {
    const line = JSON.stringify({ time: '2024-10-10T13:55:36Z', status: 429, client_ip: '192.0.2.7', path: '/a?b=c' });
    expect(parseLogLine(line, untrusted)).toEqual({ format: 'json', ip: '192.0.2.7', status: 429, path: '/a', timeMs: Date.UTC(2024, 9, 10, 13, 55, 36), forwarded: false });
  });

  it('reads status_code as a string, a request line and an address:port client', () => {
    const line = JSON.stringify({ status_code: '429', client: '192.0.2.2:4433', request: 'GET /r?x=1 HTTP/1.1', timestamp: 1728568536.5 });
    expect(parseLogLine(line, untrusted)).toMatchObject({ ip: '192.0.2.2', status: 429, path: '/r', timeMs: 1728568536500 });
  });

  it('reads full URLs and IPv4-mapped IPv6 clients', () => {
    const line = JSON.stringify({ status: 429, remote_addr: '::ffff:192.0.2.1', url: 'https://api.example.com/v1/x?y=z' });
    expect(parseLogLine(line, untrusted)).toMatchObject({ ip: '192.0.2.1', path: '/v1/x' });
  });

  it('uses x_forwarded_for only when trusted', () => {
    const line = JSON.stringify({ status: 429, remote_addr: '10.1.2.3', x_forwarded_for: '2001:db8::99, 10.0.0.1', path: '/' });
    expect(parseLogLine(line, untrusted)?.ip).toBe('10.1.2.3');
    expect(parseLogLine(line, trusted)?.ip).toBe('2001:db8::99');
  });

  it('refuses JSON without a status and broken JSON', () => {
    expect(parseLogLine(JSON.stringify({ msg: 'rate_limit exceeded 429 times' }), untrusted)).toBeUndefined();
    expect(parseLogLine('{"status": 429', untrusted)).toBeUndefined();
  });
});

describe('helpers', () => {
  it('strips pod and timestamp prefixes in either order', () => {
    expect(stripPrefixes('[web-1] 2024-10-10T00:00:00Z hello').rest).toBe('hello');
    expect(stripPrefixes('2024-10-10T00:00:00Z [web-1/app] hello').rest).toBe('hello');
    expect(stripPrefixes('[::1]:80 - "GET / HTTP/1.1" 429 x').rest).toBe('[::1]:80 - "GET / HTTP/1.1" 429 x');
  });

  it('parses nginx times and rejects others', () => {
    expect(parseNginxTime('01/Jan/2025:00:00:00 +0100')).toBe(Date.UTC(2024, 11, 31, 23, 0, 0));
    expect(parseNginxTime('2025-01-01 00:00:00')).toBeUndefined();
  });

  it('never keeps query strings in paths', () => {
    expect(pathOf('/auth/callback?code=abc&state=def')).toBe('/auth/callback');
    expect(pathOf('/a#frag')).toBe('/a');
    expect(pathOf('https://h/x?y')).toBe('/x');
  });

  it('normalizes addresses strictly', () => {
    expect(normalizeIp('203.0.113.7')).toBe('203.0.113.7');
    expect(normalizeIp('010.1.1.1')).toBeUndefined();
    expect(normalizeIp('127.1')).toBeUndefined();
    expect(normalizeIp('2001:DB8::A')).toBe('2001:db8::a');
    expect(normalizeIp('fe80::1%eth0')).toBeUndefined();
    expect(normalizeIp('-')).toBeUndefined();
    expect(normalizePeer('203.0.113.7:443')).toBe('203.0.113.7');
  });

  it('parses networks to their canonical network address', () => {
    expect(parseNetwork('198.51.100.77/24')).toMatchObject({ cidr: '198.51.100.0/24', kind: 'ipv4', prefix: 24 });
    expect(parseNetwork('2001:db8::1')).toMatchObject({ cidr: '2001:db8::1/128', kind: 'ipv6', prefix: 128 });
    expect(parseNetwork('::ffff:192.0.2.1/120')).toMatchObject({ cidr: '192.0.2.0/24', kind: 'ipv4' });
    expect(parseNetwork('1.2.3.4/33')).toMatch(/prefix length/);
    expect(parseNetwork('1.2.3')).toMatch(/not an IPv4 or IPv6/);
    expect(parseNetwork('example.com')).toMatch(/not an IPv4 or IPv6/);
  });
});
