import net from 'node:net';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { checkDatabase, classifyDbError, dbCheckReply, usage } from '../../commands/incident/db.ts';
import type { DbCheckFailed, DbCheckOk } from '../../commands/incident/db.ts';
import { createDatabase, testServices, uniqueName, withSuperuser } from '../harness/env.ts';
import { dbCheckVerb } from '../../commands/incident/verbs.ts';
import { replyToText } from '../../src/render/text.ts';
import { FakeBackend } from '../harness/fake-backend.ts';
import { testContext } from '../harness/context.ts';

const held: pg.Client[] = [];
const roles: string[] = [];
const servers: net.Server[] = [];

/** A login role with a password and a CONNECTION LIMIT, and its URL for `database`. */
async function limitedRole(database: string, limit: number): Promise<{ name: string; password: string; url: string }> {
  const name = uniqueName('role');
  const password = `pw-${uniqueName('p')}`;
  await withSuperuser((c) => c.query(`CREATE ROLE ${name} LOGIN CONNECTION LIMIT ${limit} PASSWORD '${password}'`));
  roles.push(name);
  const { host, port } = testServices().postgres;
  return { name, password, url: `postgresql://${name}:${encodeURIComponent(password)}@${host}:${port}/${database}` };
}

async function hold(url: string, count: number): Promise<pg.Client[]> {
  const clients: pg.Client[] = [];
  for (let i = 0; i < count; i++) {
    const client = new pg.Client({ connectionString: url });
    client.on('error', () => undefined);
    await client.connect();
    clients.push(client);
    held.push(client);
  }
  return clients;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

afterAll(async () => {
  await Promise.allSettled(held.map((c) => c.end()));
  for (const server of servers) server.close();
  for (const role of roles) {
    await withSuperuser(async (c) => {
      await c.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1`, [role]);
      await c.query(`DROP ROLE IF EXISTS ${role}`);
    }).catch(() => undefined);
  }
});

describe('db check: pending migrations against the head the backend expects', () => {
  it('says "N pending: a → b", then "up to date" once the database is at the head', async () => {
    const backend = await FakeBackend.start();
    try {
      backend.setMigrations(['1a2b3c4d5e6f', '3f2a9c1d0b7e', '9e8d7c6b5a40', 'c0ffee123456']);
      const db = await createDatabase('dbpending');
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      await c.query('CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)');
      await c.query(`INSERT INTO alembic_version VALUES ('3f2a9c1d0b7e')`);
      const ctx = testContext({ role: 'viewer', config: { database: { url: db.url, expectedHead: { url: `${backend.url}/api/version` } } } });
      const out = await dbCheckVerb.execute!({}, ctx);
      expect(replyToText(out)).toContain('✗ Migrations: 2 pending: 3f2a9c1d0b7e → c0ffee123456 — `/autostack db migrate`');
      expect(out.summary).toMatch(/; migrations 2 pending: 3f2a9c1d0b7e → c0ffee123456$/);

      await c.query(`UPDATE alembic_version SET version_num = 'c0ffee123456'`);
      await c.end();
      expect(replyToText(await dbCheckVerb.execute!({}, ctx))).toContain('✓ Migrations: up to date (c0ffee123456)');

      const unconfigured = testContext({ role: 'viewer', config: { database: { url: db.url } } });
      expect(replyToText(await dbCheckVerb.execute!({}, unconfigured))).toContain('– Migrations: not checked: no source of the expected head is configured (database.expectedHead)');
    } finally {
      await backend.close();
    }
  });
});

describe('db check against a healthy database', () => {
  it('reports connect time, SELECT 1 latency, version, connections against max_connections and the migration head', async () => {
    const db = await createDatabase('dbcheck');
    const result = await checkDatabase(db.url);
    expect(result.ok).toBe(true);
    const ok = result as DbCheckOk;
    expect(ok.version).toMatch(new RegExp(`^${testServices().postgres.majorVersion}\\.`));
    expect(ok.server.limit).toBe(40);
    expect(ok.server.used).toBeGreaterThanOrEqual(1);
    expect(ok.connectMs).toBeGreaterThan(0);
    expect(ok.selectMs).toBeGreaterThan(0);
    expect(ok.database).toBe(db.name);
    expect(ok.migration).toBeNull();
    // The superuser URL has a password: it must only ever be shown masked.
    const password = testServices().postgres.password;
    expect(ok.target).toContain(':***@');
    expect(JSON.stringify(dbCheckReply(result))).not.toContain(password);

    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    await c.query('CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)');
    await c.query(`INSERT INTO alembic_version VALUES ('3f2a9c1d0b7e')`);
    await c.end();
    const again = (await checkDatabase(db.url)) as DbCheckOk;
    expect(again.migration).toBe('3f2a9c1d0b7e');
  });

  it('lists the longest-running queries, cut to 100 characters and redacted', async () => {
    const db = await createDatabase('dblong');
    const [busy] = await hold(db.url, 1);
    const marker = uniqueName('m');
    const running = busy!
      .query(`SELECT pg_sleep(120), '${marker}', 'password=hunter2', '${'x'.repeat(200)}'`)
      .catch((error: Error) => error);
    // Wait until the server shows the query as active.
    for (let i = 0; i < 100; i++) {
      const seen = await withSuperuser((c) => c.query(`SELECT 1 FROM pg_stat_activity WHERE state = 'active' AND query LIKE $1`, [`%${marker}%`]));
      if (seen.rowCount) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const result = (await checkDatabase(db.url)) as DbCheckOk;
    expect(result.ok).toBe(true);
    const mine = result.longest.find((q) => q.query.includes(marker));
    expect(mine).toBeDefined();
    expect(mine!.state).toBe('active');
    expect(mine!.pid).toBe((busy as unknown as { processID: number }).processID);
    expect(mine!.query).toContain('password=[REDACTED]');
    expect(mine!.query).not.toContain('hunter2');
    // "first 100 chars": redacted first, then cut to 100 characters.
    expect(mine!.query.length).toBeLessThanOrEqual(100);
    await withSuperuser((c) => c.query('SELECT pg_cancel_backend($1)', [mine!.pid]));
    expect(await running).toBeInstanceOf(Error);
  });
});

describe('db check near and at the connection limit', () => {
  it('reports the role at 90% of its connection limit as an alert', async () => {
    const db = await createDatabase('dbnear');
    const role = await limitedRole(db.name, 10);
    await hold(role.url, 8);
    const result = await checkDatabase(role.url);
    expect(result.ok).toBe(true);
    const ok = result as DbCheckOk;
    // 8 held + the check's own connection = 9 of 10.
    expect(ok.role).toMatchObject({ name: role.name, used: 9, limit: 10, percent: 90, alert: true });
    const text = JSON.stringify(dbCheckReply(result).parts);
    expect(text).toContain('9 of 10 connections in use (90%)');
    expect(text).toContain("runbook's 90% alert");
    expect(text).not.toContain(role.password);
  });

  it('classifies a database at its connection limit as "too many connections" with the next step', async () => {
    const db = await createDatabase('dbfull');
    const role = await limitedRole(db.name, 3);
    await hold(role.url, 3);
    const result = await checkDatabase(role.url);
    expect(result.ok).toBe(false);
    const failure = result as DbCheckFailed;
    expect(failure.kind).toBe('too-many-connections');
    expect(failure.code).toBe('53300');
    expect(failure.nextStep).toContain('db restart');
    expect(failure.nextStep).toContain('90%');
    expect(failure.target).not.toContain(role.password);
    expect(JSON.stringify(dbCheckReply(result))).not.toContain(role.password);
    expect(dbCheckReply(result).summary).toContain('too many connections');
  });

  it('computes the alert at exactly 90%', () => {
    expect(usage(35, 40).alert).toBe(false);
    expect(usage(36, 40)).toEqual({ used: 36, limit: 40, percent: 90, alert: true });
  });
});

describe('db check failures are classified', () => {
  it('a stopped database: connection refused, next step restart', async () => {
    const port = await freePort();
    const result = (await checkDatabase(`postgresql://app:secret-pw@127.0.0.1:${port}/autostack`, { connectTimeoutMs: 3000 })) as DbCheckFailed;
    expect(result.ok).toBe(false);
    expect(result.kind).toBe('refused');
    expect(result.nextStep).toContain('/autostack db restart');
    expect(result.target).toBe(`postgresql://app:***@127.0.0.1:${port}/autostack`);
    expect(JSON.stringify(dbCheckReply(result))).not.toContain('secret-pw');
  });

  it('wrong password: authentication failed (28P01), never showing the password', async () => {
    const { host, port, superuser: user } = testServices().postgres;
    const result = (await checkDatabase(`postgresql://${user}:wrong-pw-123@${host}:${port}/postgres`)) as DbCheckFailed;
    expect(result.kind).toBe('auth');
    expect(result.code).toBe('28P01');
    expect(result.nextStep).toContain('connection string');
    expect(JSON.stringify(result)).not.toContain('wrong-pw-123');
  });

  it('unknown host: DNS', async () => {
    const result = (await checkDatabase('postgresql://app:pw@db.autostack.invalid:5432/autostack')) as DbCheckFailed;
    expect(result.kind).toBe('dns');
    expect(['ENOTFOUND', 'EAI_AGAIN']).toContain(result.code);
  });

  it('a server that never answers: timeout', async () => {
    const sockets: net.Socket[] = [];
    const server = net.createServer((socket) => sockets.push(socket));
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    const result = (await checkDatabase(`postgresql://app:pw@127.0.0.1:${port}/autostack`, { connectTimeoutMs: 300 })) as DbCheckFailed;
    for (const s of sockets) s.destroy();
    expect(result.kind).toBe('timeout');
    expect(result.message).toContain('300 ms');
  });

  it('TLS required by the client but the server has none: TLS', async () => {
    const db = await createDatabase('dbtls');
    const ssl = await withSuperuser((c) => c.query<{ ssl: string }>(`SELECT current_setting('ssl') AS ssl`));
    expect(ssl.rows[0]!.ssl).toBe('off');
    const result = (await checkDatabase(`${db.url}?sslmode=require`)) as DbCheckFailed;
    expect(result.kind).toBe('tls');
    expect(result.nextStep).toContain('sslmode');
  });

  it('a database that does not exist', async () => {
    const url = new URL(testServices().postgres.url);
    url.pathname = `/${uniqueName('missing')}`;
    const result = (await checkDatabase(url.toString())) as DbCheckFailed;
    expect(result.kind).toBe('no-database');
    expect(result.nextStep).toContain('db migrate');
  });

  it('no connection string configured', async () => {
    const result = (await checkDatabase(undefined)) as DbCheckFailed;
    expect(result.kind).toBe('not-configured');
  });

  it('classifies raw errors', () => {
    expect(classifyDbError(Object.assign(new Error('x'), { code: 'EAI_AGAIN' })).kind).toBe('dns');
    expect(classifyDbError(Object.assign(new Error('no pg_hba.conf entry'), { code: '28000' })).kind).toBe('auth');
    expect(classifyDbError(Object.assign(new Error('self-signed'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' })).kind).toBe('tls');
    expect(classifyDbError(new Error('Connection terminated unexpectedly'), { elapsedMs: 1000, connectTimeoutMs: 1000 }).kind).toBe('timeout');
    expect(classifyDbError(Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' })).kind).toBe('timeout');
    expect(classifyDbError(new Error('Query read timeout')).kind).toBe('timeout');
    expect(classifyDbError(Object.assign(new Error('the database system is starting up'), { code: '57P03' })).kind).toBe('starting');
  });
});
