import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createDatabase, testServices } from './env.ts';

const execFileAsync = promisify(execFile);

describe('test PostgreSQL', () => {
  it('accepts the superuser URL with its password', async () => {
    const client = new pg.Client({ connectionString: testServices().postgres.url });
    await client.connect();
    try {
      const res = await client.query<{ user: string; max: string }>(
        "SELECT current_user AS user, current_setting('max_connections') AS max",
      );
      expect(res.rows[0]).toEqual({ user: 'postgres', max: '40' });
    } finally {
      await client.end();
    }
  });

  it('refuses a wrong password over TCP', async () => {
    const { host, port, superuser } = testServices().postgres;
    const client = new pg.Client({ host, port, user: superuser, password: 'wrong-password', database: 'postgres' });
    await expect(client.connect()).rejects.toMatchObject({ code: '28P01' });
    await client.end().catch(() => undefined);
  });

  it('ships pg_dump of the same major version as the server', async () => {
    const { url, pgDump, majorVersion } = testServices().postgres;
    const { stdout } = await execFileAsync(pgDump, ['--version']);
    const dumpMajor = Number(/(\d+)(?:\.\d+)/.exec(stdout)?.[1]);

    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const res = await client.query<{ v: string }>("SELECT current_setting('server_version_num') AS v");
      const serverMajor = Math.floor(Number(res.rows[0]?.v) / 10000);
      expect(dumpMajor).toBe(serverMajor);
      expect(majorVersion).toBe(serverMajor);
    } finally {
      await client.end();
    }
  });

  it('creates an isolated database and drops it again', async () => {
    const db = await createDatabase('harness');
    const client = new pg.Client({ connectionString: db.url });
    const clientErrors: unknown[] = [];
    client.on('error', (err) => clientErrors.push(err));
    await client.connect();
    const res = await client.query<{ db: string }>('SELECT current_database() AS db');
    expect(res.rows[0]?.db).toBe(db.name);
    await client.query('CREATE TABLE t (id int primary key)');
    // Left open on purpose: drop() must still succeed.

    await db.drop();
    await client.end().catch(() => undefined);
    // The forced drop terminated the open session.
    expect(clientErrors).toContainEqual(expect.objectContaining({ code: '57P01' }));
    const admin = new pg.Client({ connectionString: testServices().postgres.url });
    await admin.connect();
    try {
      const left = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [db.name]);
      expect(left.rowCount).toBe(0);
    } finally {
      await admin.end();
    }
  });
});
