import fs from 'node:fs';
import pg from 'pg';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { isProcessRunning, processGroupMembers, startAlertmanager, startMoto, startPostgres, startRedis, trackedPids } from './services.ts';
import { testServices } from './env.ts';

function kill0(pid: number): string {
  try {
    process.kill(pid, 0);
    return 'alive';
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? 'unknown';
  }
}

/** Polls until `pid` no longer exists (an exited process may await reaping by init). */
async function gone(pid: number): Promise<string> {
  for (let i = 0; i < 200 && kill0(pid) === 'alive'; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return kill0(pid);
}

describe('service harness', () => {
  it('starts a separate set of services and leaves no process or directory behind', async () => {
    const [redis, postgres, moto, alertmanager] = await Promise.all([startRedis(), startPostgres(), startMoto(), startAlertmanager()]);
    const pids = [redis.pid, postgres.pid, moto.pid, alertmanager.pid];
    const dirs = [redis.dir, postgres.dir, moto.dir, alertmanager.dir];
    const c = new pg.Client({ connectionString: postgres.url });
    c.on('error', () => undefined);
    try {
      const shared = testServices();
      // A second, independent set: new ports and processes.
      expect(redis.port).not.toBe(Number(new URL(shared.redisUrl).port));
      expect(postgres.port).not.toBe(shared.postgres.port);
      expect(alertmanager.url).not.toBe(shared.alertmanagerUrl);
      expect(pids).not.toContain(shared.pids.postgres);

      for (const pid of pids) {
        expect(isProcessRunning(pid)).toBe(true);
        // Each service leads its own process group, so stopping it can take all of it down.
        expect(processGroupMembers(pid)).toContain(pid);
      }
      expect(trackedPids()).toEqual(expect.arrayContaining(pids));
      for (const dir of dirs) expect(fs.existsSync(dir)).toBe(true);

      const r = new Redis(redis.url, { maxRetriesPerRequest: null });
      try {
        expect(await r.ping()).toBe('PONG');
      } finally {
        r.disconnect();
      }
      await c.connect();
      expect((await c.query('SELECT 1 AS one')).rows[0]).toEqual({ one: 1 });
      // c stays connected while stopping: the immediate shutdown must not wait for it.
      const res = await fetch(`${moto.endpoint}/moto-api/`);
      expect(res.status).toBeLessThan(500);
      await res.arrayBuffer();
      const silences = await fetch(`${alertmanager.url}/api/v2/silences`);
      expect(silences.status).toBe(200);
      expect(await silences.json()).toEqual([]);
    } finally {
      await Promise.all([redis.stop(), postgres.stop(), moto.stop(), alertmanager.stop()]);
      await c.end().catch(() => undefined);
    }

    for (const pid of pids) expect(processGroupMembers(pid)).toEqual([]);
    for (const pid of pids) expect(await gone(pid)).toBe('ESRCH');
    for (const dir of dirs) expect(fs.existsSync(dir)).toBe(false);
    for (const pid of pids) expect(trackedPids()).not.toContain(pid);
  });

  it('fails fast with the install command when a binary is missing', async () => {
    const saved = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      await expect(startRedis()).rejects.toThrow(/redis-server not found.*bash scripts\/install-test-deps\.sh/);
      await expect(startMoto()).rejects.toThrow(/moto_server not found.*bash scripts\/install-test-deps\.sh/);
    } finally {
      process.env.PATH = saved;
    }
  });
});
