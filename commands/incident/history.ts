/**
 * `history <app>`: the Deployment's rollout history from its ReplicaSets, newest first, as
 * `kubectl rollout history` would list it, with images, when, ready replicas and the live one.
 */
import type { Reply } from '../../src/core/result.ts';
import { joinText, md, mention } from '../../src/core/text.ts';
import type { Mrkdwn, Text } from '../../src/core/text.ts';
import { clockTime, imageTag } from '../shared/evidence.ts';
import type { RolloutHistory } from '../shared/kube-rollouts.ts';

/**
 * A change-cause as mrkdwn: the bot writes the requester's Slack ID into it ("rollback to revision
 * 2 by U0BOB: …"), shown as a mention.
 */
export function changeCauseText(cause: string): Mrkdwn {
  const pieces: Text[] = [];
  let from = 0;
  for (const match of cause.matchAll(/\bby ([UW][A-Z0-9]{2,})\b/g)) {
    pieces.push(md`${cause.slice(from, match.index)}by `, mention(match[1]!));
    from = match.index + match[0].length;
  }
  pieces.push(md`${cause.slice(from)}`);
  return joinText(pieces);
}

export function historyReply(app: string, history: RolloutHistory, now: Date): Reply {
  const name = history.deployment.metadata?.name ?? app;
  const revisions = [...history.revisions].reverse();
  if (revisions.length === 0) {
    return { summary: `Deployment ${name} has no rollout history`, parts: [{ kind: 'text', text: `Deployment ${name} has no ReplicaSets yet.` }], visibility: 'channel' };
  }
  const rows = revisions.map((r) => [
    `${r.revision}${r.live ? ' ◀ live' : ''}`,
    r.images.map(imageTag).join(', '),
    r.created ? clockTime(r.created, now) : '?',
    `${r.readyReplicas}/${r.replicas}`,
  ]);
  const live = history.live;
  const desired = history.deployment.spec?.replicas ?? 1;
  const ready = history.deployment.status?.readyReplicas ?? 0;
  return {
    summary: `Deployment ${name}: ${revisions.length} revisions, live revision ${live?.revision ?? 'unknown'} (${ready}/${desired} ready)`,
    parts: [
      { kind: 'heading', text: `Rollout history of ${name}` },
      { kind: 'table', columns: ['revision', 'images', 'created', 'ready'], rows },
      { kind: 'text', text: joinText([md`*Change-causes*`, ...revisions.map((r) => md`• *${r.revision}* ${r.changeCause ? changeCauseText(r.changeCause) : '—'}`)], '\n') },
      {
        kind: 'context',
        text: `Live: revision ${live?.revision ?? 'unknown'}, ${ready}/${desired} replicas ready. Roll back with \`/autostack rollback ${app}\` (previous revision) or \`--to-revision N\`.`,
      },
    ],
    visibility: 'channel',
  };
}
