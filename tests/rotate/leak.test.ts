/**
 * Secrets stay secret: known secret values go through every rotation path with a real bot (the
 * one-time form, including a rejected submission; the staged Secret with a failing OAuth check and
 * its rollback; a successful GitHub rotation; the JWT rotation, whose generated values are read
 * back from the Secret), then every recorded Slack call, log line, audit entry, metric and Redis
 * key and value is searched for them, as they are and base64-encoded.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { DEFAULT_BACKEND_ENV, WRONG_REDIRECT_URI } from '../harness/fake-backend.ts';
import { STAGED, fastTiming, platform } from './helpers.ts';
import type { Platform } from './helpers.ts';
import { OPS, USERS, finishedJob, formIdFrom, linkFrom, pendingApproval, startRotationBot, submitForm } from './bot-helpers.ts';
import type { RotationBot } from './bot-helpers.ts';

const marker = randomBytes(6).toString('hex');
const GITHUB = { id: 'Ov23liLEAKCHECK00001', secret: `leakcheck-gh-${marker}-7f3a9c1e5b2d4f6a8c0e` };
const GOOGLE = { id: '987654321098-leakcheck.apps.googleusercontent.com', secret: `GOCSPX-leakcheck-${marker}-1b2c3d` };
const REJECTED_SECRET = `leakcheck rejected ${marker}`;

let p: Platform;
let t: RotationBot;

beforeAll(async () => {
  fastTiming();
  // The backend answers with a wrong callback when it runs with the new Google client: that rotation fails and is rolled back.
  p = await platform({ around: (env) => (env?.GOOGLE_CLIENT_ID === GOOGLE.id ? { ...env, GOOGLE_REDIRECT_URI: WRONG_REDIRECT_URI } : env) });
  t = await startRotationBot(p);
});
afterAll(() => t.stop());

/** Every form a leaked value could take in storage or transit. */
function encodings(value: string): string[] {
  return [...new Set([value, Buffer.from(value).toString('base64'), Buffer.from(value).toString('base64url'), encodeURIComponent(value)])];
}

/** Every key of this bot (its prefix, and BullMQ's hash-tagged one), with its type and content as text. */
async function dumpRedis(redis: Redis, prefix: string): Promise<Map<string, string>> {
  const dump = new Map<string, string>();
  for (const pattern of [`${prefix}:*`, `{${prefix}}:*`]) {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      cursor = next;
      for (const key of keys) {
        const type = await redis.type(key);
        let content: unknown;
        if (type === 'string') content = await redis.get(key);
        else if (type === 'hash') content = await redis.hgetall(key);
        else if (type === 'list') content = await redis.lrange(key, 0, -1);
        else if (type === 'set') content = await redis.smembers(key);
        else if (type === 'zset') content = await redis.zrange(key, 0, -1, 'WITHSCORES');
        else if (type === 'stream') content = await redis.xrange(key, '-', '+');
        else content = `(type ${type})`;
        dump.set(key, `${key} ${type} ${JSON.stringify(content)}`);
      }
    } while (cursor !== '0');
  }
  return dump;
}

interface Finding {
  where: string;
  value: string;
}

async function scan(values: string[]): Promise<{ findings: Finding[]; redisKeys: number; calls: number; logLines: number; auditEntries: number }> {
  const redis = t.bot.deps.clients.redis;
  const places: Array<[string, string]> = [];
  const calls = t.emulator.calls();
  calls.forEach((call) => places.push([`slack ${call.method} #${call.seq}`, JSON.stringify(call)]));
  t.logLines.forEach((line, i) => places.push([`log line ${i}`, line]));
  const audit = await t.bot.audit.latest(10_000);
  audit.forEach((entry) => places.push([`audit ${entry.id}`, JSON.stringify(entry)]));
  const dump = await dumpRedis(redis, t.config.redis.prefix);
  for (const [key, text] of dump) places.push([`redis ${key}`, text]);
  places.push(['metrics', await (await fetch(`${t.publicUrl}/metrics`)).text()]);
  const findings: Finding[] = [];
  for (const value of values) {
    for (const form of encodings(value)) {
      for (const [where, text] of places) if (text.includes(form)) findings.push({ where, value: form === value ? value : `${value} (encoded)` });
    }
  }
  return { findings, redisKeys: dump.size, calls: calls.length, logLines: t.logLines.length, auditEntries: audit.length };
}

describe('secret values never leave the Secret', () => {
  it('finds no secret value anywhere after every rotation path', async () => {
    // 1. A form submission that is rejected (the secret has spaces), then the GitHub rotation from the form.
    await t.command(USERS.operator, 'rotate github');
    const link = linkFrom(t, USERS.operator);
    const rejected = await submitForm(link, { id: GITHUB.id, secret: REJECTED_SECRET });
    expect(rejected.status).toBe(422);
    expect(rejected.html).not.toContain(REJECTED_SECRET);
    const accepted = await submitForm(link, GITHUB);
    expect(accepted.html).not.toContain(GITHUB.secret);
    const formId = formIdFrom(accepted.html);
    await t.command(USERS.operator, `rotate github apply --form ${formId}`);
    const github = await pendingApproval(t, 'rotate github apply');

    // While the values wait for approval they are in Redis, sealed only.
    const waiting = await scan([GITHUB.secret, REJECTED_SECRET]);
    expect(waiting.findings).toEqual([]);
    const sealed = [...(await dumpRedis(t.bot.deps.clients.redis, t.config.redis.prefix)).values()].find((text) => text.includes(`:rotation:form:${formId}`));
    expect(sealed).toMatch(/"sealedSecret":"sealed:v1:/);

    await t.click(USERS.approver, { channel: OPS, ts: github.ts }, 'Approve');
    expect(t.text((await finishedJob(t, 'GitHub OAuth credential rotation')).parent)).toMatch(/Succeeded/);
    expect((await p.secretData())!.GITHUB_CLIENT_SECRET).toBe(GITHUB.secret);

    // 2. Google from the staged Secret: the OAuth check fails and the rotation is rolled back.
    await p.createSecret(STAGED, { GOOGLE_CLIENT_ID: GOOGLE.id, GOOGLE_CLIENT_SECRET: GOOGLE.secret });
    await t.command(USERS.operator, 'rotate google apply --staged');
    const google = await pendingApproval(t, 'rotate google apply');
    await t.click(USERS.approver2, { channel: OPS, ts: google.ts }, 'Approve');
    const failed = await finishedJob(t, 'Google OAuth credential rotation');
    expect(t.text(failed.parent)).toMatch(/Failed/);
    expect(t.text(failed.parent)).toMatch(/Rolled back/);
    expect((await p.secretData())!.GOOGLE_CLIENT_SECRET).toBe(DEFAULT_BACKEND_ENV.GOOGLE_CLIENT_SECRET);

    // 3. JWT: the generated values are known once read back from the Secret.
    await t.command(USERS.operator, 'rotate jwt');
    const jwt = await pendingApproval(t, 'rotate jwt');
    await t.click(USERS.approver, { channel: OPS, ts: jwt.ts }, 'Approve');
    expect(t.text((await finishedJob(t, 'JWT secret rotation')).parent)).toMatch(/Succeeded/);
    const data = (await p.secretData())!;

    const secrets = [
      GITHUB.secret,
      GOOGLE.secret,
      REJECTED_SECRET,
      data.JWT_SECRET!,
      data.SECRET_KEY!,
      DEFAULT_BACKEND_ENV.GITHUB_CLIENT_SECRET!,
      DEFAULT_BACKEND_ENV.GOOGLE_CLIENT_SECRET!,
      DEFAULT_BACKEND_ENV.JWT_SECRET!,
      DEFAULT_BACKEND_ENV.SECRET_KEY!,
    ];
    expect(data.JWT_SECRET).not.toBe(DEFAULT_BACKEND_ENV.JWT_SECRET);
    const result = await scan(secrets);
    expect(result.findings).toEqual([]);
    // The scan saw the whole trail: approvals, jobs, the audit stream, the log.
    expect(result.redisKeys).toBeGreaterThan(10);
    expect(result.calls).toBeGreaterThan(20);
    expect(result.logLines).toBeGreaterThan(5);
    expect(result.auditEntries).toBeGreaterThan(10);
    // Nothing submitted through the form is left in Redis once the job ended.
    const left = [...(await dumpRedis(t.bot.deps.clients.redis, t.config.redis.prefix)).keys()].filter((key) => key.includes(':rotation:form:'));
    expect(left).toEqual([]);
  });

  it('the scan does find a value that was leaked (control)', async () => {
    const planted = `leakcheck-planted-${marker}`;
    await t.bot.deps.clients.redis.hset(`${t.config.redis.prefix}:control`, 'note', Buffer.from(planted).toString('base64'));
    t.bot.deps.log.info({ detail: planted }, 'control line');
    const result = await scan([planted]);
    expect(result.findings.map((f) => f.where).sort()).toEqual([`log line ${t.logLines.length - 1}`, `redis ${t.config.redis.prefix}:control`].sort());
    await t.bot.deps.clients.redis.del(`${t.config.redis.prefix}:control`);
  });
});
