/**
 * `history <app>`: the Deployment's rollout history from its ReplicaSets, newest first, as
 * `kubectl rollout history` would list it, with images, when, ready replicas and the live one.
 */
import type { Reply } from '../../src/core/result.ts';
import type { RolloutHistory } from '../shared/kube.ts';
import { span } from '../shared/span.ts';

export function formatAge(from: Date | undefined, now: Date): string {
  if (!from) return '?';
  return `${span(now.getTime() - from.getTime())} ago`;
}

export function historyReply(app: string, history: RolloutHistory, now: Date): Reply {
  const name = history.deployment.metadata?.name ?? app;
  const revisions = [...history.revisions].reverse();
  if (revisions.length === 0) {
    return { summary: `Deployment ${name} has no rollout history`, parts: [{ kind: 'text', text: `Deployment ${name} has no ReplicaSets yet.` }], visibility: 'channel' };
  }
  const rows = revisions.map((r) => [
    `${r.revision}${r.live ? ' ◀ live' : ''}`,
    r.images.join(', '),
    r.changeCause ?? '—',
    r.created ? `${r.created.toISOString().slice(0, 16).replace('T', ' ')} UTC (${formatAge(r.created, now)})` : '?',
    `${r.readyReplicas}/${r.replicas}`,
  ]);
  const live = history.live;
  const desired = history.deployment.spec?.replicas ?? 1;
  const ready = history.deployment.status?.readyReplicas ?? 0;
  return {
    summary: `Deployment ${name}: ${revisions.length} revisions, live revision ${live?.revision ?? 'unknown'} (${ready}/${desired} ready)`,
    parts: [
      { kind: 'heading', text: `Rollout history of ${name}` },
      { kind: 'table', columns: ['revision', 'images', 'change-cause', 'created', 'ready'], rows },
      {
        kind: 'context',
        text: `Live: revision ${live?.revision ?? 'unknown'}, ${ready}/${desired} replicas ready. Roll back with \`/autostack rollback ${app}\` (previous revision) or \`--to-revision N\`.`,
      },
    ],
    visibility: 'channel',
  };
}
