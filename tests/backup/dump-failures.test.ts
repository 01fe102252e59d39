import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runBackup } from '../../commands/backup/dump.ts';
import { classifyToolFailure, spawnTool } from '../../commands/backup/pg.ts';
import { testServices } from '../harness/env.ts';
import { addBulk, dbSettings, keys, multipartUploads, newStore, seededDatabase, sql } from './helpers.ts';

describe('runBackup failures', () => {
  it('aborts the multipart upload when pg_dump dies mid-stream: no object and no unfinished upload remain', async () => {
    const db = await seededDatabase(10);
    await addBulk(db.url, 60);
    const store = await newStore();
    const commands: string[] = [];
    store.s3.middlewareStack.add(
      (next, context) => async (args) => {
        commands.push(context.commandName ?? '?');
        return next(args);
      },
      { step: 'initialize', name: 'recordCommands' },
    );
    let terminated: Promise<unknown> | undefined;
    const error = await runBackup({
      ...store,
      db: dbSettings(db),
      startedBy: 'U1',
      reason: 'x',
      partSize: 5 * 1024 * 1024,
      onBytes: (bytes) => {
        // Part 1 is complete once more than one part's worth has passed: kill pg_dump's session then.
        if (bytes > 6 * 1024 * 1024 && !terminated) {
          terminated = sql(
            testServices().postgres.url,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'autostack-backup' AND pid <> pg_backend_pid()",
            [db.name],
          );
        }
      },
    }).catch((e: Error) => e);
    await terminated;
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/pg_dump lost its connection to PostgreSQL/);
    expect((error as Error).message).toMatch(/no object was written/);
    expect(commands).toContain('CreateMultipartUploadCommand');
    expect(commands).toContain('AbortMultipartUploadCommand');
    expect(commands).not.toContain('CompleteMultipartUploadCommand');
    expect(commands).not.toContain('PutObjectCommand');
    expect(await multipartUploads(store.s3, store.bucket)).toBe(0);
    expect(await keys(store.s3, store.bucket)).toEqual([]);
  });

  it('refuses a pg_dump older than the server (server version mismatch) before writing anything', async () => {
    const db = await seededDatabase(1);
    const store = await newStore();
    const binDir = fs.mkdtempSync(path.join(os.tmpdir(), 'old-pg-'));
    try {
      // A pg_dump that reports an old major version, as an outdated client package would.
      fs.writeFileSync(path.join(binDir, 'pg_dump'), '#!/bin/sh\necho "pg_dump (PostgreSQL) 12.22"\n', { mode: 0o755 });
      const error = await runBackup({ ...store, db: { ...dbSettings(db), binDir }, startedBy: 'U1', reason: 'x' }).catch((e: Error) => e);
      expect((error as Error).message).toMatch(/^pg_dump 12\.22 is older than the server \(PostgreSQL \d+\.\d+\): server version mismatch$/);
      expect(await keys(store.s3, store.bucket)).toEqual([]);
    } finally {
      fs.rmSync(binDir, { recursive: true, force: true });
    }
  });

  it('classifies what the real pg_dump prints for a wrong password, without the password', async () => {
    const db = await seededDatabase(1);
    const url = new URL(db.url);
    url.password = 'Wr0ng-Secret';
    const settings = dbSettings(url.toString());
    const tool = spawnTool('pg_dump', ['--format=custom', '--no-password', `--dbname=${db.name}`, '--host=127.0.0.1', `--port=${url.port}`, '--username=postgres'], settings, {
      stdin: 'ignore',
      stdout: 'pipe',
    });
    tool.child.stdout!.resume();
    const exit = await tool.exited;
    expect(exit.code).not.toBe(0);
    const failure = classifyToolFailure('pg_dump', exit, tool.stderr(), settings);
    expect(failure.message).toBe(`PostgreSQL at 127.0.0.1:${url.port} refused the password for user "postgres" (pg_dump)`);
  });

  it('classifies a session terminated by the server as a lost connection', () => {
    const stderr =
      'pg_dump: error: Dumping the contents of table "bulk" failed: PQgetResult() failed.\npg_dump: detail: Error message from server: FATAL:  terminating connection due to administrator command\n';
    const failure = classifyToolFailure('pg_dump', { code: 1, signal: null }, stderr, { url: 'postgres://u:p@db:5432/autostack' });
    expect(failure.message).toBe('pg_dump lost its connection to PostgreSQL at db:5432');
  });

  it('classifies the message pg_dump prints on a server version mismatch', () => {
    const stderr = 'pg_dump: error: aborting because of server version mismatch\npg_dump: detail: server version: 16.4; pg_dump version: 15.8\n';
    const failure = classifyToolFailure('pg_dump', { code: 1, signal: null }, stderr, { url: 'postgres://u:p@db:5432/autostack' });
    expect(failure.message).toBe('pg_dump 15.8 is older than the server (PostgreSQL 16.4): server version mismatch');
  });
});
