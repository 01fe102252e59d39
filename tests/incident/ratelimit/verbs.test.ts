/**
 * The ratelimit verbs, buttons and TTL job with real CommandContexts: the test control plane
 * (Deployments, pods with logs served by kwok, the Ingress; the bot under its Role), the test
 * Redis (block records) and moto (WAF IP set).
 */
import { CreateIPSetCommand, GetIPSetCommand, WAFV2Client } from '@aws-sdk/client-wafv2';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Args, Role } from '../../../src/core/types.ts';
import { UsageError } from '../../../src/core/types.ts';
import type { Part, Reply } from '../../../src/core/result.ts';
import { replyToText } from '../../../src/render/text.ts';
import { blockButtonAction, blockVerb, blocksVerb, topVerb, unblockVerb } from '../../../commands/incident/ratelimit/verbs.ts';
import type { BlockParams } from '../../../commands/incident/ratelimit/verbs.ts';
import { rateLimitActions, rateLimitVerbs } from '../../../commands/incident/ratelimit/index.ts';
import { rateLimitUnblockJob } from '../../../jobs/ratelimit-unblock.ts';
import { DENYLIST_ANNOTATION } from '../../../commands/incident/ratelimit/blocklist.ts';
import { BlockRecords, blocksKey } from '../../../commands/shared/block-records.ts';
import { unblockJobId } from '../../../commands/incident/ratelimit/block.ts';
import { KubeConfig } from '@kubernetes/client-node';
import { botRoleRules, createDeployment, deploymentPods, kubeNamespace, setPodLogs } from '../../harness/kube-env.ts';
import type { LogLine, TestNamespace } from '../../harness/kube-env.ts';
import { planOf, runJob, runOperation, testContext } from '../../harness/context.ts';
import type { TestContext } from '../../harness/context.ts';
import { awsClientConfig, uniqueName } from '../../harness/env.ts';

const NOW = new Date('2026-11-28T03:00:00.000Z');

/** The test's namespace; `NS` its name. */
let ns: TestNamespace;
let NS: string;
beforeEach(async () => {
  ns = await kubeNamespace();
  NS = ns.name;
});

function context(options: { role?: Role; config?: Record<string, unknown>; clock?: boolean; kube?: KubeConfig } = {}): TestContext {
  const { rateLimit, ...rest } = options.config ?? {};
  return testContext({
    role: options.role ?? 'operator',
    kube: options.kube ?? ns.bot,
    channel: 'C0INCIDENT',
    ...(options.clock === false ? {} : { clock: { now: () => NOW } }),
    config: {
      kubernetes: { namespace: NS },
      redis: { prefix: uniqueName('rl') },
      rateLimit: { block: { ingress: 'autostack' }, ...((rateLimit as object) ?? {}) },
      ...rest,
    },
  });
}

const args = (positional: string[], flags: Args['flags'] = {}): Args => ({ positional, flags });
const tables = (r: Reply) => r.parts.filter((p): p is Extract<Part, { kind: 'table' }> => p.kind === 'table');
const buttons = (r: Reply) => r.parts.flatMap((p) => (p.kind === 'buttons' ? p.buttons : []));
const annotation = async (name = 'autostack') => (await ns.kube.networking.readNamespacedIngress({ name, namespace: NS })).metadata?.annotations?.[DENYLIST_ANNOTATION];

async function seedIngress(entries?: string) {
  await ns.kube.networking.createNamespacedIngress({
    namespace: NS,
    body: {
      metadata: { name: 'autostack', annotations: entries ? { [DENYLIST_ANNOTATION]: entries } : undefined },
      spec: { rules: [{ host: 'app.autostack.example', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'backend', port: { number: 8000 } } } }] } }] },
    },
  });
}

describe('module exports', () => {
  it('exports the four verbs and the button handler', () => {
    expect(rateLimitVerbs.map((v) => v.path.join(' '))).toEqual(['ratelimit top', 'ratelimit block', 'ratelimit unblock', 'ratelimit blocks']);
    expect(rateLimitActions.map((a) => a.action)).toEqual(['ratelimit.block']);
    expect(rateLimitVerbs.map((v) => [v.minRole, v.guard])).toEqual([
      ['viewer', 'none'],
      ['operator', 'confirm'],
      ['operator', 'confirm'],
      ['viewer', 'none'],
    ]);
  });
});

// ---------------------------------------------------------------------------------------------

describe('ratelimit top', () => {
  /** The minute `n` minutes before the current one, as a Date inside it (+s seconds). */
  const minuteAgo = (n: number, s = 0) => new Date(Math.floor(Date.now() / 60_000) * 60_000 - n * 60_000 + s * 1000);
  const nginxTime = (d: Date) => {
    const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
    const p = (n: number) => String(n).padStart(2, '0');
    return `${p(d.getUTCDate())}/${months[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
  };

  /** Pods running for `runningMs` (default a day: their logs cover any --since). */
  async function seedApp(name: string, replicas: number, runningMs = 86_400_000): Promise<string[]> {
    await createDeployment(ns, { name, image: `${name}:1.0`, replicas, startedAt: new Date(Date.now() - runningMs) });
    return (await deploymentPods(ns, name)).map((p) => p.metadata!.name!);
  }
  /** Makes kwok serve `lines` as the log of the pod's only container (named after its Deployment). */
  const podLogs = (pod: string, app: string, lines: LogLine[]) => setPodLogs(ns, pod, { [app]: { lines } });

  it('uvicorn logs of two pods: exact counts, shares, per-minute against the threshold, paths and Block buttons', async () => {
    const [podA, podB] = (await seedApp('backend', 2)) as [string, string];
    // Minute -3: 120 429s (over the threshold of 100); minute -2: 30.
    const lines = (ip: string, n: number, minute: number, path: string) => Array.from({ length: n }, (_, i) => ({ time: minuteAgo(minute, i % 60), text: `INFO:     ${ip}:5${i % 10}123 - "GET ${path}?attempt=${i} HTTP/1.1" 429 Too Many Requests` }));
    await podLogs(podA, 'backend', [...lines('203.0.113.7', 90, 3, '/login'), ...lines('2001:db8::bad', 20, 2, '/auth/github')]);
    await podLogs(podB, 'backend', [
      ...lines('203.0.113.7', 30, 3, '/login'),
      ...lines('198.51.100.23', 10, 2, '/login'),
      { time: minuteAgo(2), text: 'INFO:     198.51.100.23:4000 - "GET /items/429 HTTP/1.1" 200 OK' },
      { time: minuteAgo(2), text: 'INFO:     10.0.0.1:4000 - "GET /health HTTP/1.1" 200 OK' },
      { time: minuteAgo(2), text: 'WARNING:  rate_limit: 429 returned to a client' },
    ]);
    const ctx = context({ role: 'viewer', clock: false });
    const params = topVerb.parse(args([], { since: '15m' }), ctx);
    const out = await topVerb.execute!(params, ctx);

    expect(out.visibility).toBe('channel');
    expect(out.summary).toBe('150 429s on backend in the last 15m; top 203.0.113.7 (80%); peak 120/min vs threshold 100/min');
    const [offenders, minutes, paths] = tables(out);
    expect(offenders!.rows).toEqual([
      ['1', '203.0.113.7', '120', '80%'],
      ['2', '2001:db8::bad', '20', '13%'],
      ['3', '198.51.100.23', '10', '6.7%'],
    ]);
    const minuteText = (d: Date) => d.toISOString().slice(0, 16).replace('T', ' ');
    expect(minutes!.rows).toEqual([
      [minuteText(minuteAgo(3)), '120', ':rotating_light: over 100'],
      [minuteText(minuteAgo(2)), '30', ''],
    ]);
    expect(paths!.rows).toEqual([
      ['/login', '130', '87%'],
      ['/auth/github', '20', '13%'],
    ]);
    const text = replyToText(out);
    expect(text).toContain('Alert threshold: 100/min (runbook): exceeded in 1 minute');
    expect(text).toContain('from 2 pods');
    expect(text).toContain('1 line containing "429" matched no known log format');
    expect(text).not.toContain('attempt=');
    expect(buttons(out).map((b) => [b.label, b.action, b.value])).toEqual([
      ['Block 203.0.113.7', 'ratelimit.block', '203.0.113.7'],
      ['Block 2001:db8::bad', 'ratelimit.block', '2001:db8::bad'],
      ['Block 198.51.100.23', 'ratelimit.block', '198.51.100.23'],
    ]);
  });

  it('JSON logs: exact counts, X-Forwarded-For only when trusted, no button for private addresses', async () => {
    const [pod] = (await seedApp('api', 1)) as [string];
    const entry = (ip: string, xff: string | undefined, i: number) => ({ time: minuteAgo(1), text: JSON.stringify({ timestamp: minuteAgo(1, i % 50).toISOString(), status_code: 429, remote_addr: ip, ...(xff ? { x_forwarded_for: xff } : {}), path: '/api/token' }) });
    await podLogs(pod, 'api', [
      ...Array.from({ length: 7 }, (_, i) => entry('10.0.5.5', '198.51.100.7, 10.0.5.5', i)),
      ...Array.from({ length: 3 }, (_, i) => entry('10.0.5.5', '2001:db8:1::1', i)),
      ...Array.from({ length: 2 }, (_, i) => entry('192.0.2.44', undefined, i)),
      { time: minuteAgo(1), text: JSON.stringify({ status: 200, remote_addr: '192.0.2.44', path: '/api/429' }) },
    ]);
    const untrusted = context({ role: 'viewer', clock: false });
    const plain = await topVerb.execute!(topVerb.parse(args([], { app: 'api' }), untrusted), untrusted);
    expect(tables(plain)[0]!.rows).toEqual([
      ['1', '10.0.5.5', '10', '83%'],
      ['2', '192.0.2.44', '2', '17%'],
    ]);
    expect(replyToText(plain)).toContain('10 429 lines carried X-Forwarded-For; it was ignored');
    expect(buttons(plain).map((b) => b.value)).toEqual(['192.0.2.44']);

    const trusting = context({ role: 'viewer', clock: false, config: { rateLimit: { trustForwardedFor: true } } });
    const trusted = await topVerb.execute!(topVerb.parse(args([], { app: 'api' }), trusting), trusting);
    expect(tables(trusted)[0]!.rows).toEqual([
      ['1', '198.51.100.7', '7', '58%'],
      ['2', '2001:db8:1::1', '3', '25%'],
      ['3', '192.0.2.44', '2', '17%'],
    ]);
  });

  it('ingress-nginx controller logs: counts only status 429, not 429 elsewhere in the line', async () => {
    const [pod] = (await seedApp('ingress-nginx-controller', 1)) as [string];
    const line = (ip: string, status: number, i: number) =>
      `${ip} - - [${nginxTime(minuteAgo(1, i % 60))}] "POST /login HTTP/1.1" ${status} 429 "-" "python-requests/2.32" 429 0.429 [autostack-backend-8000] [] 10.0.1.5:8000 429 0.429 ${status} 4294f1e2d3c4b5a6`;
    await podLogs(pod, 'ingress-nginx-controller', [
      ...Array.from({ length: 25 }, (_, i) => line('2001:db8:ffff::1', 429, i)),
      ...Array.from({ length: 40 }, (_, i) => line('2001:db8:ffff::1', 200, i)),
      ...Array.from({ length: 4 }, (_, i) => line('203.0.113.50', 429, i)),
    ]);
    const ctx = context({ role: 'viewer', clock: false });
    const out = await topVerb.execute!(topVerb.parse(args([], { app: 'ingress-nginx-controller', limit: '1' }), ctx), ctx);
    expect(out.summary).toMatch(/^29 429s on ingress-nginx-controller/);
    expect(tables(out)[0]!.rows).toEqual([['1', '2001:db8:ffff::1', '25', '86%']]);
  });

  it('reads only the --since window', async () => {
    const [pod] = (await seedApp('backend', 1)) as [string];
    await podLogs(pod, 'backend', [
      { time: new Date(Date.now() - 2 * 3_600_000), text: 'INFO:     203.0.113.1:1 - "GET / HTTP/1.1" 429 Too Many Requests' },
      { time: minuteAgo(1), text: 'INFO:     203.0.113.2:1 - "GET / HTTP/1.1" 429 Too Many Requests' },
    ]);
    const ctx = context({ role: 'viewer', clock: false });
    const out = await topVerb.execute!(topVerb.parse(args([], { since: '30m' }), ctx), ctx);
    expect(tables(out)[0]!.rows).toEqual([['1', '203.0.113.2', '1', '100%']]);
  });

  it('says there were no 429s, and fails clearly for an unknown app', async () => {
    const [pod] = (await seedApp('backend', 1)) as [string];
    await podLogs(pod, 'backend', ['INFO:     203.0.113.2:1 - "GET / HTTP/1.1" 200 OK']);
    const ctx = context({ role: 'viewer', clock: false });
    const out = await topVerb.execute!(topVerb.parse(args([]), ctx), ctx);
    expect(out.summary).toBe('No 429s on backend in the last 15m');
    expect(buttons(out)).toEqual([]);
    await expect(topVerb.execute!(topVerb.parse(args([], { app: 'nope' }), ctx), ctx)).rejects.toThrow(`Deployment nope not found in namespace ${NS}. Known log sources: backend.`);
  });

  it('over pods younger than --since: states how far the logs reach, claims nothing before, and names a source that reaches further', async () => {
    const [young] = (await seedApp('backend', 1, 2 * 60_000)) as [string];
    const [ingress] = (await seedApp('ingress-nginx-controller', 1)) as [string];
    await podLogs(young, 'backend', [{ time: minuteAgo(1), text: 'INFO:     203.0.113.2:1 - "GET / HTTP/1.1" 429 Too Many Requests' }]);
    await podLogs(ingress, 'ingress-nginx-controller', ['10.0.0.1 - - [x] "GET / HTTP/1.1" 200 0']);
    const ctx = context({ role: 'viewer', clock: false, config: { rateLimit: { logSources: ['ingress-nginx-controller'] } } });
    const out = await topVerb.execute!(topVerb.parse(args([], { since: '1h' }), ctx), ctx);
    const text = replyToText(out);
    expect(out.summary).toMatch(/^1 429s on backend since \d\d:\d\d UTC \(logs reach back only to there\)/);
    expect(text).toMatch(/Logs cover: only since \d\d:\d\d UTC \(2 min ago\) \(pods started then\)/);
    expect(text).toMatch(/Alert threshold: 100\/min \(runbook\): not exceeded since \d\d:\d\d UTC \(logs reach back only to there\)/);
    expect(text).not.toContain('in the last 1h');
    expect(text).toMatch(/logs reach back only to \d\d:\d\d UTC \(2 min ago\) \(pods started then\), not to \d\d:\d\d UTC \(1 h ago\)/);
    expect(text).toContain('for earlier, use `/autostack ratelimit top --app ingress-nginx-controller --since 1h` (its logs reach back to');

    const old = await topVerb.execute!(topVerb.parse(args([], { since: '1h', app: 'ingress-nginx-controller' }), ctx), ctx);
    expect(old.summary).toBe('No 429s on ingress-nginx-controller in the last 1h');
    expect(replyToText(old)).toMatch(/Logs cover: \d\d:\d\d UTC \(1 h ago\) to now/);
  });

  it('refuses bad options before reading anything', () => {
    // Its Kubernetes API answers nowhere: a read would fail the test.
    const nowhere = new KubeConfig();
    nowhere.loadFromClusterAndUser({ name: 'nowhere', server: 'http://127.0.0.1:9', skipTLSVerify: false }, { name: 'nobody' });
    const ctx = context({ role: 'viewer', kube: nowhere });
    expect(() => topVerb.parse(args([], { since: '15' }), ctx)).toThrow(new UsageError('--since must be a duration such as 15m, 2h or 1d (got "15")'));
    expect(() => topVerb.parse(args([], { since: '3d' }), ctx)).toThrow(/--since must be between 1 minute and 1 day/);
    expect(() => topVerb.parse(args([], { limit: '0' }), ctx)).toThrow(/--limit must be a number from 1 to 50/);
    expect(() => topVerb.parse(args([], { app: 'Back_End' }), ctx)).toThrow(/--app must be a Deployment name/);
  });
});

// ---------------------------------------------------------------------------------------------

describe('ratelimit block: refusals', () => {
  const parse = (positional: string[], flags: Args['flags'] = {}, role: Role = 'operator', config: Record<string, unknown> = {}) => {
    const ctx = context({ role, config });
    return blockVerb.parse(args(positional, flags), ctx);
  };

  it('refuses invalid addresses', () => {
    expect(() => parse(['999.1.2.3'])).toThrow(new UsageError('"999.1.2.3" is not an IPv4 or IPv6 address or network (e.g. 203.0.113.7, 198.51.100.0/24, 2001:db8::/48)'));
    expect(() => parse(['1.2.3.4/40'])).toThrow(/prefix length must be between 0 and 32/);
    expect(() => parse(['evil.example.com'])).toThrow(UsageError);
  });

  it('always refuses 0.0.0.0/0 and ::/0, even forced by an approver', () => {
    expect(() => parse(['0.0.0.0/0'], { force: true }, 'approver')).toThrow(/0\.0\.0\.0\/0 is every IPv4 address.*Refused/);
    expect(() => parse(['::/0'], { force: true }, 'approver')).toThrow(/::\/0 is every IPv6 address.*Refused/);
  });

  it('refuses private, loopback, link-local and unique-local ranges unless an approver forces it', () => {
    for (const [target, range] of [
      ['10.1.2.3', '10.0.0.0/8'],
      ['172.20.0.1', '172.16.0.0/12'],
      ['192.168.1.1', '192.168.0.0/16'],
      ['127.0.0.1', '127.0.0.0/8'],
      ['169.254.169.254', '169.254.0.0/16'],
      ['fd00::1', 'fc00::/7'],
      ['::1', '::1/128'],
      ['fe80::1', 'fe80::/10'],
    ] as const) {
      expect(() => parse([target])).toThrow(new RegExp(`overlaps ${range.replace(/[./]/g, '\\$&')}.*An approver can force it with --force`));
    }
    expect(() => parse(['10.1.2.3'], { force: true }, 'operator')).toThrow(new UsageError('--force needs the approver role.'));
    const forced = parse(['10.1.2.3'], { force: true }, 'approver');
    expect(forced.forcedBecause).toEqual(['10.1.2.3/32 overlaps 10.0.0.0/8 private (RFC 1918): blocking it can cut off the ingress controller, nodes or internal callers']);
  });

  it('refuses allow-listed networks and very broad ranges unless forced', () => {
    const config = { rateLimit: { block: { allowList: ['198.51.100.0/24', '2001:db8:aaaa::/48'] } } };
    expect(() => parse(['198.51.100.7'], {}, 'operator', config)).toThrow(/overlaps the allow-listed network 198\.51\.100\.0\/24/);
    expect(() => parse(['2001:db8:aaaa:1::/64'], {}, 'operator', config)).toThrow(/allow-listed network 2001:db8:aaaa::\/48/);
    expect(() => parse(['198.0.0.0/8'], {}, 'operator', config)).toThrow(/overlaps the allow-listed network.*broader than \/16/);
    expect(() => parse(['8.0.0.0/8'])).toThrow(/8\.0\.0\.0\/8 is broader than \/16 \(16777216 addresses\)/);
    expect(parse(['8.0.0.0/8'], { force: true }, 'approver').cidr).toBe('8.0.0.0/8');
    expect(() => parse(['203.0.113.7'], {}, 'operator', { rateLimit: { block: { allowList: ['office'] } } })).toThrow(/allowList has entries that are not networks \(office\)/);
  });

  it('checks the TTL and the WAF configuration', () => {
    expect(() => parse(['203.0.113.7'], { ttl: '5x' })).toThrow(/--ttl must be a duration/);
    expect(() => parse(['203.0.113.7'], { ttl: '30s' })).toThrow(/--ttl must be between 1 minute and 30 days/);
    expect(() => parse(['203.0.113.7'], { ttl: '31d' })).toThrow(/--ttl must be between 1 minute and 30 days/);
    expect(() => parse(['203.0.113.7'], {}, 'operator', { rateLimit: { block: { backend: 'waf' } } })).toThrow(/rateLimit\.block\.waf.*is not configured/);
    expect(() => parse(['2001:db8::1'], {}, 'operator', { rateLimit: { block: { backend: 'waf', waf: { name: 'deny', id: 'x' } } } })).toThrow(/no IPv6 IP set: configure rateLimit\.block\.waf\.ipv6/);
  });

  it('normalizes the address and joins the reason', () => {
    expect(parse(['203.0.113.77/24', 'credential', 'stuffing'], { ttl: '2h' })).toEqual({
      cidr: '203.0.113.0/24',
      kind: 'ipv4',
      ttl: '2h',
      ttlMs: 7_200_000,
      reason: 'credential stuffing',
      forcedBecause: [],
    });
  });
});

// ---------------------------------------------------------------------------------------------

describe('ratelimit block / unblock / blocks with the ingress backend', () => {
  it('plans, blocks keeping existing entries, records who/why/until and schedules the unblock', async () => {
    await seedIngress('192.0.2.0/24');
    const ctx = context({ role: 'operator' });
    const params = blockVerb.parse(args(['203.0.113.7', 'credential', 'stuffing'], { ttl: '2h' }), ctx);
    const plan = await planOf(blockVerb, params, ctx);
    expect(plan.title).toBe('Block 203.0.113.7/32 for 2h');
    expect(plan.resources).toEqual([`Ingress ${NS}/autostack (${DENYLIST_ANNOTATION})`]);
    expect(plan.steps[2]).toContain('keeping the entries already there');
    expect(await annotation()).toBe('192.0.2.0/24');

    const out = await runOperation(blockVerb, params, ctx);
    expect(out.visibility).toBe('channel');
    expect(out.summary).toBe('Blocked 203.0.113.7/32 until 2026-11-28 05:00 UTC');
    expect(await annotation()).toBe('192.0.2.0/24,203.0.113.7/32');

    const record = await new BlockRecords(ctx.clients.redis, blocksKey(ctx.config.redis.prefix)).get('203.0.113.7/32');
    expect(record).toEqual({
      cidr: '203.0.113.7/32',
      by: 'U0TESTER',
      reason: 'credential stuffing',
      at: '2026-11-28T03:00:00.000Z',
      until: '2026-11-28T05:00:00.000Z',
      target: { kind: 'ingress', namespace: NS, name: 'autostack' },
      channel: 'C0INCIDENT',
    });
    expect(ctx.started).toEqual([
      {
        name: 'ratelimit-unblock',
        data: { cidr: '203.0.113.7/32', until: '2026-11-28T05:00:00.000Z' },
        options: { channel: 'C0INCIDENT', requestedBy: 'U0TESTER', threadTs: undefined, delayMs: 7_200_000, jobId: unblockJobId('203.0.113.7/32', Date.parse('2026-11-28T05:00:00.000Z')) },
      },
    ]);
    expect(ctx.started[0]!.options.jobId).toBe('unblock-203.0.113.7_32-1795842000000');
  });

  it('an IPv6 job id has no ":" (BullMQ refuses custom ids with it)', () => {
    expect(unblockJobId('2001:db8::/48', 1)).toBe('unblock-2001_db8___48-1');
  });

  it('leaves the list and the records as they were when the Ingress cannot be changed', async () => {
    // The bot's Role in this namespace lacks the grant to patch Ingresses: the API server answers 403.
    ns = await kubeNamespace({ rules: botRoleRules().map((rule) => (rule.resources?.includes('ingresses') ? { ...rule, verbs: rule.verbs.filter((verb) => verb !== 'patch') } : rule)) });
    NS = ns.name;
    await seedIngress('192.0.2.0/24');
    const ctx = context();
    const params = blockVerb.parse(args(['203.0.113.7']), ctx);
    await expect(runOperation(blockVerb, params, ctx)).rejects.toThrow(new RegExp(`updating Ingress ${NS}/autostack failed \\(403\\).*Nothing was changed`));
    expect(await annotation()).toBe('192.0.2.0/24');
    expect(await new BlockRecords(ctx.clients.redis, blocksKey(ctx.config.redis.prefix)).all()).toEqual([]);
    // The unblock job was scheduled first; with no record it will do nothing.
    const job = await runJob(rateLimitUnblockJob, ctx.started[0]!.data as { cidr: string; until: string }, ctx);
    expect(job.reply.summary).toBe('203.0.113.7/32 was already unblocked; nothing to do.');
  });

  it('unblock removes only that network and its record; blocks lists who, why and until when', async () => {
    await seedIngress('192.0.2.0/24');
    const ctx = context();
    await runOperation(blockVerb, blockVerb.parse(args(['203.0.113.7', 'scraper']), ctx), ctx);
    await runOperation(blockVerb, blockVerb.parse(args(['2001:db8:bad::/48', 'botnet'], { ttl: '30m' }), ctx), ctx);
    expect(await annotation()).toBe('192.0.2.0/24,203.0.113.7/32,2001:db8:bad::/48');

    const listed = await blocksVerb.execute!({}, context({ role: 'viewer', config: { redis: { prefix: ctx.config.redis.prefix } } }));
    expect(tables(listed)[0]!.rows).toEqual([
      ['2001:db8:bad::/48', '2026-11-28 03:30 UTC', '<@U0TESTER>', 'botnet', `ingress ${NS}/autostack`],
      ['203.0.113.7/32', '2026-11-28 04:00 UTC', '<@U0TESTER>', 'scraper', `ingress ${NS}/autostack`],
    ]);
    expect(replyToText(listed)).toContain('holds 3 entries; not added by the bot (kept as they are): 192.0.2.0/24.');

    const params = unblockVerb.parse(args(['2001:db8:bad::/48']), ctx);
    expect((await planOf(unblockVerb, params, ctx)).steps[0]).toContain('keeping the other entries');
    const out = await runOperation(unblockVerb, params, ctx);
    expect(out.summary).toBe('Unblocked 2001:db8:bad::/48');
    expect(await annotation()).toBe('192.0.2.0/24,203.0.113.7/32');
    expect((await new BlockRecords(ctx.clients.redis, blocksKey(ctx.config.redis.prefix)).all()).map((r) => r.cidr)).toEqual(['203.0.113.7/32']);

    await expect(runOperation(unblockVerb, unblockVerb.parse(args(['198.51.100.1']), ctx), ctx)).rejects.toThrow(/198\.51\.100\.1\/32 is not blocked/);
    // An entry someone added by hand can be lifted too.
    await runOperation(unblockVerb, unblockVerb.parse(args(['192.0.2.0/24']), ctx), ctx);
    expect(await annotation()).toBe('203.0.113.7/32');
  });

  it('the TTL job removes the block only if it was not renewed', async () => {
    await seedIngress('192.0.2.0/24');
    const ctx = context();
    await runOperation(blockVerb, blockVerb.parse(args(['203.0.113.7'], { ttl: '1h' }), ctx), ctx);
    const first = ctx.started[0]!.data as { cidr: string; until: string };
    // Renewed later with a longer TTL: a later "now".
    const later = testContext({ role: 'operator', kube: ns.bot, channel: 'C0INCIDENT', clock: { now: () => new Date(NOW.getTime() + 30 * 60_000) }, config: { kubernetes: { namespace: NS }, redis: { prefix: ctx.config.redis.prefix } } });
    const renewed = await runOperation(blockVerb, blockVerb.parse(args(['203.0.113.7'], { ttl: '2h' }), later), later);
    expect(renewed.summary).toBe('Renewed the block of 203.0.113.7/32 until 2026-11-28 05:30 UTC');
    expect(await annotation()).toBe('192.0.2.0/24,203.0.113.7/32');

    const stale = await runJob(rateLimitUnblockJob, first, ctx);
    expect(stale.reply.summary).toBe('203.0.113.7/32 was blocked again until 2026-11-28 05:30 UTC; it stays blocked until then.');
    expect(await annotation()).toBe('192.0.2.0/24,203.0.113.7/32');

    const current = later.started[0]!.data as { cidr: string; until: string };
    const done = await runJob(rateLimitUnblockJob, current, ctx);
    expect(done.reply.summary).toBe('203.0.113.7/32 unblocked (TTL ended)');
    expect(done.steps).toEqual([`Removing 203.0.113.7/32 from Ingress ${NS}/autostack (${DENYLIST_ANNOTATION})`]);
    expect(await annotation()).toBe('192.0.2.0/24');
    // Running it again (a retry) changes nothing.
    expect((await runJob(rateLimitUnblockJob, current, ctx)).reply.summary).toBe('203.0.113.7/32 was already unblocked; nothing to do.');
    expect(await annotation()).toBe('192.0.2.0/24');
  });
});

// ---------------------------------------------------------------------------------------------

describe('"Block <ip>" buttons', () => {
  it('request `ratelimit block <ip>` for the clicker (the runtime confirms it), changing nothing themselves', async () => {
    await seedIngress();
    const ctx = context({ role: 'operator' });
    expect(await blockButtonAction.handle('203.0.113.7', { ...ctx })).toBeUndefined();
    expect(ctx.requested).toEqual([{ path: ['ratelimit', 'block'], args: { positional: ['203.0.113.7', '429', 'offender', '(ratelimit', 'top)'], flags: {} } }]);
    expect(await annotation()).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------------------------

describe('ratelimit block with the WAF backend (moto)', () => {
  let waf: WAFV2Client;
  beforeAll(() => {
    waf = new WAFV2Client(awsClientConfig());
  });
  afterAll(() => waf.destroy());

  it('adds to and removes from the IP set of the address family, keeping other addresses', async () => {
    const v4 = await waf.send(new CreateIPSetCommand({ Name: uniqueName('deny4'), Scope: 'REGIONAL', IPAddressVersion: 'IPV4', Addresses: ['192.0.2.0/24'] }));
    const v6 = await waf.send(new CreateIPSetCommand({ Name: uniqueName('deny6'), Scope: 'REGIONAL', IPAddressVersion: 'IPV6', Addresses: [] }));
    const config = { rateLimit: { block: { backend: 'waf', waf: { name: v4.Summary!.Name, id: v4.Summary!.Id, scope: 'REGIONAL', ipv6: { name: v6.Summary!.Name, id: v6.Summary!.Id } } } } };
    const ctx = context({ role: 'operator', config });
    const read = async (s: typeof v4) => (await waf.send(new GetIPSetCommand({ Name: s.Summary!.Name, Id: s.Summary!.Id, Scope: 'REGIONAL' }))).IPSet!.Addresses;

    const params: BlockParams = blockVerb.parse(args(['203.0.113.7']), ctx);
    expect((await planOf(blockVerb, params, ctx)).resources).toEqual([`WAF IP set ${v4.Summary!.Name} (REGIONAL, ${v4.Summary!.Id})`]);
    await runOperation(blockVerb, params, ctx);
    await runOperation(blockVerb, blockVerb.parse(args(['2001:db8::1']), ctx), ctx);
    expect(await read(v4)).toEqual(['192.0.2.0/24', '203.0.113.7/32']);
    expect(await read(v6)).toEqual(['2001:db8::1/128']);

    const job = await runJob(rateLimitUnblockJob, ctx.started[1]!.data as { cidr: string; until: string }, ctx);
    expect(job.reply.summary).toBe('2001:db8::1/128 unblocked (TTL ended)');
    expect(await read(v6)).toEqual([]);
    await runOperation(unblockVerb, unblockVerb.parse(args(['203.0.113.7']), ctx), ctx);
    expect(await read(v4)).toEqual(['192.0.2.0/24']);
  });
});
