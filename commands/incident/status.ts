/**
 * `status <app>`: runbook Troubleshooting, "Deployment stuck: check Kubernetes pod status". The
 * app's rollout, each pod's phase, readiness, restarts and why its container last ended or waits
 * (CrashLoopBackOff, OOMKilled), and recent warning events, with buttons for the next step.
 */
import type { CoreV1Event, V1Deployment, V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import type { ActionHandler, KubeClients } from '../../src/core/types.ts';
import { UsageError } from '../../src/core/types.ts';
import type { Button, Part, Reply } from '../../src/core/result.ts';
import { containerImages, kubeFailure, podsOf } from '../shared/kube.ts';
import { deploymentRolloutState, statefulSetRolloutState } from '../shared/kube-rollouts.ts';
import { clockTime, imageTag } from '../shared/evidence.ts';
import { redact } from '../shared/redact.ts';
import { appName, readAppWorkload } from '../shared/apps.ts';
import type { AppTarget } from '../shared/apps.ts';

export const STATUS_ACTION = 'status.next';
const MAX_EVENTS = 8;
const EVENT_WINDOW_MS = 3_600_000;

function when(value: Date | string | undefined): Date | undefined {
  if (!value) return undefined;
  const d = value instanceof Date ? value : new Date(value);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/** "Running, 1/1 ready, 0 restarts" + why a container waits or last ended. */
export function podLine(pod: V1Pod, now: Date): { text: string; crashing: boolean } {
  const statuses = pod.status?.containerStatuses ?? [];
  const ready = statuses.filter((s) => s.ready).length;
  const restarts = statuses.reduce((sum, s) => sum + (s.restartCount ?? 0), 0);
  const notes: string[] = [];
  let crashing = false;
  for (const s of statuses) {
    const waiting = s.state?.waiting?.reason;
    if (waiting) {
      notes.push(`${statuses.length > 1 ? `${s.name}: ` : ''}waiting: ${waiting}`);
      if (/BackOff|Err/.test(waiting)) crashing = true;
    }
    const last = s.lastState?.terminated;
    if (last) {
      const ended = when(last.finishedAt);
      notes.push(`last ended: ${last.reason ?? 'terminated'}, exit ${last.exitCode}${ended ? ` at ${clockTime(ended, now)}` : ''}`);
      if (last.reason === 'OOMKilled') crashing = true;
    }
  }
  const phase = pod.status?.phase ?? 'Unknown';
  const text = `\`${pod.metadata?.name ?? '?'}\` ${phase}, ${ready}/${statuses.length || pod.spec?.containers?.length || 0} ready, ${restarts} restart${restarts === 1 ? '' : 's'}${notes.length ? `\n      ${notes.join('; ')}` : ''}`;
  return { text, crashing };
}

async function warningEvents(kube: KubeClients, namespace: string, names: Set<string>, now: Date): Promise<CoreV1Event[]> {
  try {
    const list = await kube.core.listNamespacedEvent({ namespace });
    return list.items
      .filter((e) => e.type === 'Warning' && names.has(e.involvedObject?.name ?? ''))
      .filter((e) => {
        const at = when(e.lastTimestamp) ?? when(e.eventTime as Date | string | undefined) ?? when(e.firstTimestamp);
        return !at || now.getTime() - at.getTime() <= EVENT_WINDOW_MS;
      })
      .sort((a, b) => (when(b.lastTimestamp)?.getTime() ?? 0) - (when(a.lastTimestamp)?.getTime() ?? 0))
      .slice(0, MAX_EVENTS);
  } catch (error) {
    throw kubeFailure('listing events', error);
  }
}

export function nextStepButtons(app: string, crashing: boolean, kind: string): Button[] {
  const buttons: Button[] = [{ label: crashing ? 'Logs of crashed containers' : 'Logs', action: STATUS_ACTION, value: JSON.stringify({ verb: 'logs', app, previous: crashing }) }];
  if (kind === 'Deployment') {
    buttons.push({ label: 'History', action: STATUS_ACTION, value: JSON.stringify({ verb: 'history', app }) });
    buttons.push({ label: 'Restart', action: STATUS_ACTION, value: JSON.stringify({ verb: 'restart', app }) });
    buttons.push({ label: 'Roll back', action: STATUS_ACTION, value: JSON.stringify({ verb: 'rollback', app }), style: 'danger' });
  }
  return buttons;
}

export async function appStatus(kube: KubeClients, namespace: string, target: AppTarget, now: Date): Promise<Reply> {
  const { workload, object } = await readAppWorkload(kube, namespace, target);
  const rollout = workload.kind === 'Deployment' ? deploymentRolloutState(object as V1Deployment) : statefulSetRolloutState(object as V1StatefulSet);
  const pods = await podsOf(kube, namespace, object);
  const lines = pods.map((pod) => podLine(pod, now));
  const crashing = lines.some((l) => l.crashing);
  const names = new Set([workload.name, ...pods.map((p) => p.metadata?.name ?? '')]);
  for (const ref of pods.flatMap((p) => p.metadata?.ownerReferences ?? [])) names.add(ref.name);
  const events = await warningEvents(kube, namespace, names, now);

  const parts: Part[] = [
    { kind: 'heading', text: `Status of ${target.app}` },
    {
      kind: 'fields',
      fields: [
        [workload.kind, workload.name],
        ['Image', containerImages(object.spec?.template).map(imageTag).join(', ')],
        ['Rollout', `${rollout.done ? '✓ ' : rollout.failed ? '✗ ' : '… '}${rollout.message}`],
        ['Replicas', `${rollout.ready}/${rollout.desired} ready, ${rollout.updated} updated`],
      ],
    },
    { kind: 'text', text: `*Pods*\n${lines.length ? lines.map((l) => `• ${l.text}`).join('\n') : 'No pods: check the events below (scheduling, quota).'}` },
  ];
  const eventLines = events.map((e) => {
    const at = when(e.lastTimestamp) ?? when(e.firstTimestamp);
    return `• ${at ? `${clockTime(at, now)} ` : ''}*${e.reason ?? '?'}* ${e.involvedObject?.name ?? ''}${(e.count ?? 1) > 1 ? ` (×${e.count})` : ''}: ${redact(e.message ?? '').slice(0, 200)}`;
  });
  parts.push({ kind: 'text', text: `*Warning events, last hour*\n${eventLines.length ? eventLines.join('\n') : 'None.'}` });
  parts.push({ kind: 'buttons', buttons: nextStepButtons(target.app, crashing, workload.kind) });
  const summary = `${target.app}: ${rollout.message}; ${pods.length} pod${pods.length === 1 ? '' : 's'}${crashing ? ', crashing' : ''}; ${events.length} warning event${events.length === 1 ? '' : 's'}`;
  return { summary, parts, visibility: 'channel' };
}

/** The buttons under `status` and Kubernetes warnings: run the verb for the person who clicked, with its usual checks. */
export const statusAction: ActionHandler = {
  action: STATUS_ACTION,
  minRole: 'viewer',
  async handle(value, ctx) {
    let parsed: { verb?: string; app?: string; previous?: boolean };
    try {
      parsed = JSON.parse(value) as typeof parsed;
    } catch {
      throw new UsageError('this button is out of date; run `/autostack status <app>` again');
    }
    const app = appName(parsed.app);
    if (parsed.verb === 'logs') await ctx.request(['logs'], { positional: [app], flags: parsed.previous ? { previous: true } : {} });
    else if (parsed.verb === 'status') await ctx.request(['status'], { positional: [app], flags: {} });
    else if (parsed.verb === 'history') await ctx.request(['history'], { positional: [app], flags: {} });
    else if (parsed.verb === 'restart') await ctx.request(['restart'], { positional: [app], flags: {} });
    else if (parsed.verb === 'rollback') await ctx.request(['rollback'], { positional: [app], flags: {} });
    else throw new UsageError('this button is out of date; run `/autostack status <app>` again');
    return undefined;
  },
};
