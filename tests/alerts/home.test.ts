/**
 * The App Home tab end to end: the app_home_opened event through the real bot, sections read from
 * moto (the Terraform lock in DynamoDB, the backup objects in S3), the test Redis (alert groups,
 * deploys, credential rotation) and the job queue, published with views.publish to the emulator.
 */
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertsModule } from '../../commands/alerts/index.ts';
import { deployModule } from '../../commands/deploy/index.ts';
import { rotateModule } from '../../commands/rotate/index.ts';
import { tfModule } from '../../commands/tf/index.ts';
import { backupModule } from '../../commands/backup/index.ts';
import { deployLock } from '../../commands/deploy/lock.ts';
import { deployRecords } from '../../commands/shared/deploy-records.ts';
import { acquireLocks } from '../../commands/tf/locks.ts';
import { newLockInfo } from '../../commands/tf/lockinfo.ts';
import { tfStates } from '../../commands/tf/states.ts';
import { encodeMetadata } from '../../commands/backup/objects.ts';
import { backupName } from '../../commands/backup/names.ts';
import { INCIDENT, OPS, USERS, startTestBot } from '../harness/bot.ts';
import type { TestBot } from '../harness/bot.ts';
import { awsClients, uniqueName } from '../harness/env.ts';
import { payload } from './payloads.ts';

const TOKEN = `am-${uniqueName('tok')}`;
const tfBucket = uniqueName('tfstate');
const lockTable = uniqueName('tflocks');
const backupBucket = uniqueName('backups');
let t: TestBot;
let base: string;

beforeAll(async () => {
  const aws = awsClients();
  await aws.s3.send(new CreateBucketCommand({ Bucket: tfBucket }));
  await aws.s3.send(new CreateBucketCommand({ Bucket: backupBucket }));
  await aws.dynamodb.send(
    new CreateTableCommand({ TableName: lockTable, KeySchema: [{ AttributeName: 'LockID', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'LockID', AttributeType: 'S' }], BillingMode: 'PAY_PER_REQUEST' }),
  );
  t = await startTestBot({
    modules: [alertsModule, deployModule, rotateModule, tfModule, backupModule],
    config: {
      alerts: { token: TOKEN, oncallUsergroup: 'S0ONCALL' },
      terraform: {
        lockTable,
        states: [
          { name: 'platform', bucket: tfBucket, key: 'autostack/terraform.tfstate' },
          { name: 'network', bucket: tfBucket, key: 'network/terraform.tfstate' },
        ],
      },
      backup: { bucket: backupBucket, prefix: 'db/' },
      deploy: { apps: { web: { deployment: 'web', image: 'registry.example/web' } } },
    },
  });
  base = t.url.replace(/\/slack\/events$/, '');

  // Someone's `terraform apply` holds the platform state's lock.
  const platform = tfStates(t.config).find((s) => s.name === 'platform')!;
  const region = await aws.dynamodb.config.region();
  await acquireLocks({ s3: aws.s3, dynamodb: aws.dynamodb, region }, platform, newLockInfo({ operation: 'OperationTypeApply', who: 'alice@ci-runner-7', path: platform.lockId, now: new Date(Date.now() - 20 * 60_000) }), new Date());
  // Two backups; the newest is about three hours old.
  for (const hoursAgo of [27, 3]) {
    const time = new Date(Date.now() - hoursAgo * 3_600_000);
    await aws.s3.send(
      new PutObjectCommand({ Bucket: backupBucket, Key: `db/${backupName('autostack', time)}`, Body: Buffer.alloc(2048, 1), Metadata: encodeMetadata({ database: 'autostack', sha256: 'a'.repeat(64), size: 2048, startedBy: 'schedule' }) }),
    );
  }
});

afterAll(() => t?.stop());

describe('App Home', () => {
  it('shows Terraform lock state, credentials due, running jobs, deploys, open alert threads, the last backup and its age, and the commands this user may run', async () => {
    // An alert group firing, with its status thread in the incident channel.
    const alert = payload({
      groupKey: `{}:{alertname="HighErrorRate",run="${uniqueName('g')}"}`,
      alertname: 'HighErrorRate',
      severity: 'critical',
      alerts: [{ startsAt: new Date(Date.now() - 12 * 60_000).toISOString(), fingerprint: 'ab12ab12ab12ab12' }],
    });
    const posted = await fetch(`${base}/alerts`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(alert) });
    const { ts } = (await posted.json()) as { ts: string };
    // A deploy running (its lock, as the verb and job hold it) and one finished.
    const redis = t.bot.deps.clients.redis;
    await deployLock(redis, t.config, 'web').acquire('token-1', { app: 'web', image: 'registry.example/web:2.0', requestedBy: USERS.operator, since: new Date().toISOString(), channel: OPS, threadTs: '1700000000.000100' });
    await deployRecords(redis, t.config.redis.prefix).add({
      jobId: 'j1',
      app: 'web',
      deployment: 'web',
      by: USERS.operator,
      reason: 'release',
      from: { image: 'registry.example/web:1.8', revision: 4 },
      to: { image: 'registry.example/web:1.9', tag: '1.9', revision: 5 },
      result: 'rolled_back',
      rollback: { toRevision: 4, image: 'registry.example/web:1.8', completed: true },
      smoke: { passed: 0, failed: 1 },
      startedAt: new Date(Date.now() - 3_600_000).toISOString(),
      finishedAt: new Date(Date.now() - 3_500_000).toISOString(),
      durationMs: 100_000,
      channel: OPS,
      threadTs: '1700000000.000050',
    });
    await t.command(USERS.viewer, 'ping --slow 3');

    const home = await t.openHome(USERS.viewer);
    const workspace = `https://${t.emulator.teamDomain}.slack.com`;
    // Running jobs (the runtime's section).
    expect(home).toMatch(/Running jobs[\s\S]*Ping with 3 steps/);
    // Open alert threads, linked.
    expect(home).toMatch(/\*Open alerts\*\n• :rotating_light: High Error Rate \(critical\) — 1 firing for 1[12]m/);
    expect(home).toContain(`${workspace}/archives/${INCIDENT}/p${ts.replace('.', '')}`);
    // Terraform lock state of each configured state.
    expect(home).toMatch(/Terraform state locks[\s\S]*:lock: platform: lock [0-9a-f-]{36} held by alice@ci-runner-7 for OperationTypeApply since \d\d:\d\d UTC \(2\d min ago\)/);
    expect(home).toContain(`:white_check_mark: network (s3://${tfBucket}/network/terraform.tfstate): no lock held`);
    // The last backup and its age.
    expect(home).toMatch(/\*Last database backup\*\n:white_check_mark: autostack-\d{8}-\d{4}\.dump — (2h 5\dm|3h(?: \dm)?) old \(.* UTC\), 2\.00 KiB, checksum recorded; 2 backups kept/);
    // Deploys: the running one with its thread, the last result.
    expect(home).toContain(`:gear: web → registry.example/web:2.0 by <@${USERS.operator}>`);
    expect(home).toContain(`${workspace}/archives/${OPS}/p1700000000000100`);
    expect(home).toMatch(/:rewind: web 1\.9 — rolled back, 5[89]m(?: \d+s)? ago/);
    // Credentials due for rotation (the rotation area's section).
    expect(home).toContain('Credential rotation');
    // The commands this user may run.
    expect(home).toContain('/autostack alerts');
    expect(home).toContain('/autostack deploy history [app] [n]');
    expect(home).not.toContain('/autostack deploy <app> <image-tag> [reason]');
    const operatorHome = await t.openHome(USERS.operator);
    expect(operatorHome).toContain('/autostack deploy <app> <image-tag> [reason]');
  });

  it('flags a stale backup, and shows no alert when none fires', async () => {
    const aws = awsClients();
    const bucket = uniqueName('backups');
    await aws.s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const stale = await startTestBot({ modules: [alertsModule, tfModule, backupModule], config: { backup: { bucket, prefix: 'db/' }, terraform: { lockTable, states: [{ name: 'platform', bucket: tfBucket, key: 'none/terraform.tfstate' }] } } });
    try {
      const time = new Date(Date.now() - 50 * 3_600_000);
      await aws.s3.send(new PutObjectCommand({ Bucket: bucket, Key: `db/${backupName('autostack', time)}`, Body: 'x', Metadata: encodeMetadata({ database: 'autostack', sha256: 'b'.repeat(64), size: 1 }) }));
      const home = await stale.openHome(USERS.viewer);
      expect(home).toMatch(/\*Open alerts\*\nNone firing\./);
      expect(home).toMatch(/:warning: autostack-\d{8}-\d{4}\.dump — 2d [12]h old .* older than the daily schedule: check the backup job/);
      expect(home).toContain(':white_check_mark: platform');
    } finally {
      await stale.stop();
    }
  });
});
