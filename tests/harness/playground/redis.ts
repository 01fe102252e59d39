/**
 * The bot's own records, as a bot that has been running for a while has them: when each credential
 * was last rotated (GitHub due soon, Google fine, JWT overdue) and the backend's last deploys.
 * Written with the areas' own record classes; no secret value goes in.
 */
import type { Redis } from 'ioredis';
import { RotationRecords } from '../../../commands/rotate/records.ts';
import { DeployRecords } from '../../../commands/shared/deploy-records.ts';
import { BACKEND, PEOPLE } from './world.ts';

const DAY = 86_400_000;
const HOUR = 3_600_000;

export async function seedRecords(redis: Redis, prefix: string, now: Date, oldClientIds: { github: string }): Promise<void> {
  const rotations = new RotationRecords(redis, prefix);
  const ago = (ms: number) => new Date(now.getTime() - ms);
  await rotations.record('github', ago(82 * DAY), PEOPLE.alice, 'form', oldClientIds.github);
  await rotations.markRevoked('github', ago(82 * DAY), PEOPLE.alice, ago(81 * DAY));
  await rotations.record('google', ago(37 * DAY), PEOPLE.carol, 'staged-secret');
  await rotations.record('jwt', ago(187 * DAY), PEOPLE.alice, 'manual');

  const deploys = new DeployRecords(redis, prefix);
  const revisions = BACKEND.revisions;
  for (let i = 0; i < revisions.length; i++) {
    const revision = revisions[i]!;
    const previous = revisions[i - 1];
    const started = ago(revision.hoursAgo * HOUR);
    const durationMs = 142_000 + i * 31_000;
    await deploys.add({
      jobId: `deploy-${started.getTime()}`,
      app: BACKEND.deployment,
      deployment: BACKEND.deployment,
      by: i % 2 === 0 ? PEOPLE.bob : PEOPLE.alice,
      reason: revision.changeCause.replace(/^deploy [^:]+: /, '').replace(/ \([a-z]+\)$/, ''),
      from: { image: `${BACKEND.image}:${previous?.tag ?? '1.4.0'}`, ...(previous ? { revision: i } : {}) },
      to: { image: `${BACKEND.image}:${revision.tag}`, tag: revision.tag, revision: i + 1 },
      result: 'succeeded',
      migration: 'succeeded',
      health: 'ok',
      smoke: { passed: 2, failed: 0 },
      startedAt: started.toISOString(),
      finishedAt: new Date(started.getTime() + durationMs).toISOString(),
      durationMs,
    });
  }
}
