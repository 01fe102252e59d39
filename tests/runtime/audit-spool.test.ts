/**
 * Audit entries survive a Redis outage: while the test Redis cannot be reached (a TCP hop in front
 * of it stops forwarding), entries go to the local spool; once it is back they reach the stream in
 * order, before any newer entry.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditSpool, RedisAuditLog } from '../../src/core/audit.ts';
import { redisConnection, testServices, uniqueName } from '../harness/env.ts';
import { USERS, startTestBot } from '../harness/bot.ts';

/** A TCP hop to the real Redis that can go down (connections refused) and come back on the same port. */
async function redisHop(): Promise<{ url: string; down(): Promise<void>; up(): Promise<void>; close(): Promise<void> }> {
  const target = new URL(testServices().redisUrl);
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  let open = false;
  const listen = () =>
    new Promise<void>((resolve) => {
      if (server) return resolve();
      open = true;
      server = createServer((client) => {
        if (!open) return void client.destroy();
        const upstream = connect(Number(target.port), target.hostname);
        sockets.add(client).add(upstream);
        void pipeline(client, upstream, client).catch(() => undefined);
      });
      server.listen(port, '127.0.0.1', () => {
        port = (server!.address() as { port: number }).port;
        resolve();
      });
    });
  const down = async () => {
    open = false;
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    const closing = server;
    server = undefined;
    await new Promise<void>((resolve) => (closing ? closing.close(() => resolve()) : resolve()));
    for (const socket of sockets) socket.destroy();
  };
  await listen();
  return { url: `redis://127.0.0.1:${port}`, down, up: listen, close: down };
}

describe('audit during a Redis outage', () => {
  let hop: Awaited<ReturnType<typeof redisHop>>;
  let dir: string;
  beforeAll(async () => {
    hop = await redisHop();
    dir = mkdtempSync(join(tmpdir(), 'audit-spool-'));
  });
  afterAll(async () => {
    await hop?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('spools entries while Redis is down and writes them in order when it is back; none is lost', async () => {
    // The bot's own connection settings (src/bot.ts).
    const redis = new Redis(hop.url, { maxRetriesPerRequest: 3 });
    const errors: string[] = [];
    redis.on('error', (error: Error) => errors.push(error.message));
    const key = `${uniqueName('audit')}:audit`;
    const spool = new AuditSpool(dir, key);
    const audit = new RedisAuditLog(redis, key, { now: () => new Date() }, pino({ level: 'silent' }), undefined, spool);
    const entry = (n: number) => ({ actor: 'U0OPERATOR', action: `step ${n}`, result: 'ok', channel: 'C0OPS' });
    try {
      expect(await audit.record(entry(1))).toBe('stored');
      await hop.down();
      expect(await audit.record(entry(2))).toBe('spooled');
      expect(await audit.record(entry(3))).toBe('spooled');
      expect((await spool.entries()).length).toBe(2);
      await hop.up();
      const reader = redisConnection();
      const actions = async () => (await reader.xrange(key, '-', '+')).map(([, fields]) => fields[fields.indexOf('action') + 1]);
      await expect.poll(actions, { timeout: 20_000 }).toEqual(['step 1', 'step 2', 'step 3']);
      expect(await audit.record(entry(4))).toBe('stored');
      expect(await actions()).toEqual(['step 1', 'step 2', 'step 3', 'step 4']);
      expect(await spool.entries()).toEqual([]);
      expect(errors.length).toBeGreaterThan(0);
    } finally {
      redis.disconnect();
    }
  });

  it("a command run while Redis is down says its audit entry is spooled, and the entry reaches the audit log later", async () => {
    const prefix = uniqueName('auditbot');
    const t = await startTestBot({ runWorkers: false, config: { redis: { url: hop.url, prefix }, audit: { spoolDir: dir } } });
    try {
      await hop.down();
      await t.command(USERS.viewer, 'help');
      const said = t.ephemeralTexts(USERS.viewer).join('\n');
      expect(said).toContain("Audit: Redis is unreachable, so the audit entry for `help` is kept on the bot's disk");
      await hop.up();
      const reader = redisConnection();
      await expect
        .poll(async () => (await reader.xrange(`${prefix}:audit`, '-', '+')).map(([, fields]) => fields[fields.indexOf('action') + 1]), { timeout: 20_000 })
        .toContain('help');
    } finally {
      await hop.up().catch(() => undefined);
      await t.stop();
    }
  });
});
