/**
 * The rotation step every credential shares: write new values into the backend's Secret, restart
 * the backend and wait for the rollout, verify; on failure put the previous values back, restart
 * again and say exactly what state is left. Values stay in memory; messages name keys, client IDs
 * and fingerprints only.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../../src/config.ts';
import type { Clock, KubeClients } from '../../src/core/types.ts';
import { UserFacingError } from '../../src/core/types.ts';
import { RESTARTED_AT_ANNOTATION, readDeployment } from '../shared/kube.ts';
import { rolloutRestart, waitForRollout } from '../shared/kube-rollouts.ts';
import type { Workload } from '../shared/kube.ts';
import type { RolloutOutcome } from '../shared/kube-rollouts.ts';
import { PREVIOUS_PREFIX, SecretConflict, patchSecretKeys, readSecret } from './secret.ts';
import { durationMs } from '../../src/core/durations.ts';

/** Poll and retry intervals (tests shorten them). */
export const rotationTiming = { pollMs: 2000, checkAttempts: 3, checkDelayMs: 3000 };

export interface ApplyContext {
  kube: KubeClients;
  config: Config;
  clock: Clock;
  signal: AbortSignal;
  step(text: string): Promise<void>;
}

export interface Verification {
  ok: boolean;
  /** One line per check, for the thread. */
  lines: string[];
  /** Why it failed, one sentence. */
  summary: string;
}

export interface SecretChange {
  /** "the GitHub OAuth credentials", "JWT_SECRET and SECRET_KEY". */
  what: string;
  /** New values by key (in memory only). */
  values: Map<string, string>;
  /** Keep each key's current value as PREVIOUS_<KEY> in the same Secret. */
  keepPrevious: boolean;
  /** How to name a set of values without showing them (client ID, fingerprints). */
  describe(values: Map<string, string | undefined>): string;
  /** Checks the restarted backend runs with `expected` (the new values, or the previous ones after a rollback). */
  verify(expected: Map<string, string | undefined>): Promise<Verification>;
}

export interface ApplyOutcome {
  /** The values each touched key had before (in memory only). */
  previous: Map<string, string | undefined>;
  verification: Verification;
}

export function backendWorkload(config: Config): Workload {
  return { kind: 'Deployment', name: config.backend.deployment };
}

/** Where things are, for plans and messages. */
export function targets(config: Config): { namespace: string; secret: string; deployment: string; timeout: string } {
  return { namespace: config.kubernetes.namespace, secret: config.backend.secret, deployment: config.backend.deployment, timeout: config.rollout.timeout };
}

/** Rollout restart with a restartedAt the Deployment has not seen yet (two restarts in one millisecond must both roll). */
async function restart(ctx: ApplyContext, why: string): Promise<RolloutOutcome> {
  const { namespace } = targets(ctx.config);
  const workload = backendWorkload(ctx.config);
  const current = await readDeployment(ctx.kube, namespace, workload.name);
  const seen = Date.parse(current.spec?.template?.metadata?.annotations?.[RESTARTED_AT_ANNOTATION] ?? '');
  const now = ctx.clock.now().getTime();
  const at = new Date(Number.isNaN(seen) || seen < now ? now : seen + 1);
  await ctx.step(`Restarting Deployment ${namespace}/${workload.name} (${why})…`);
  const { generation } = await rolloutRestart(ctx.kube, namespace, workload, at);
  return waitForRollout(ctx.kube, namespace, workload, {
    timeoutMs: durationMs(ctx.config.rollout.timeout),
    pollMs: rotationTiming.pollMs,
    signal: ctx.signal,
    minGeneration: generation,
    onProgress: (state) => ctx.step(`rollout: ${state.message}`),
  });
}

function rolloutProblem(outcome: RolloutOutcome, timeout: string): string {
  return outcome.timedOut ? `not ready after ${timeout}: ${outcome.message}` : `not progressing: ${outcome.message}`;
}

/** Runs `verify` up to rotationTiming.checkAttempts times (Service endpoints lag a rollout by a moment). */
export async function verifyWithRetries(verify: () => Promise<Verification>, signal: AbortSignal): Promise<Verification> {
  let result = await verify();
  for (let attempt = 1; !result.ok && attempt < rotationTiming.checkAttempts; attempt++) {
    await sleep(rotationTiming.checkDelayMs, undefined, { signal });
    result = await verify();
  }
  return result;
}

export async function applySecretChange(ctx: ApplyContext, change: SecretChange): Promise<ApplyOutcome> {
  const { namespace, secret, deployment, timeout } = targets(ctx.config);
  const snapshot = await readSecret(ctx.kube, namespace, secret);
  if (snapshot.immutable) throw new UserFacingError(`Secret ${namespace}/${secret} is immutable: it cannot be updated in place. Nothing was changed.`);

  // The value every touched key had, and what it gets now.
  const previous = new Map<string, string | undefined>();
  const writes = new Map<string, string | undefined>();
  for (const [key, value] of change.values) {
    previous.set(key, snapshot.values.get(key));
    writes.set(key, value);
    if (change.keepPrevious) {
      previous.set(PREVIOUS_PREFIX + key, snapshot.values.get(PREVIOUS_PREFIX + key));
      writes.set(PREVIOUS_PREFIX + key, snapshot.values.get(key));
    }
  }
  const current = new Map([...change.values.keys()].map((k) => [k, snapshot.values.get(k)]));
  const keys = [...writes.keys()].join(', ');
  await ctx.step(`Writing ${keys} into Secret ${namespace}/${secret}: ${change.describe(current)} → ${change.describe(change.values)}…`);
  try {
    await patchSecretKeys(ctx.kube, namespace, secret, writes, snapshot.resourceVersion);
  } catch (error) {
    if (error instanceof SecretConflict) throw new UserFacingError(`${error.message} Nothing was changed; run the command again.`);
    throw new UserFacingError(`${(error as Error).message} Nothing was changed.`);
  }

  const rollback = async (reason: string): Promise<never> => {
    await ctx.step(`:warning: ${reason}. Putting the previous values back…`);
    const restore = await restoreKeys(ctx, change, previous);
    if (!restore.restored) {
      const holds = restore.oursInPlace
        ? `still holds the ${change.what} written by this rotation (${change.describe(change.values)})${change.keepPrevious ? `, with the previous ones under ${PREVIOUS_PREFIX}<KEY>` : ''}`
        : `holds values written by someone else during the rotation`;
      throw new UserFacingError(
        `${reason}. ROLLBACK FAILED: ${restore.problem} Secret ${namespace}/${secret} ${holds}; the pods of Deployment ${namespace}/${deployment} may run with the new values. Nothing else was changed.`,
      );
    }
    let again: RolloutOutcome;
    try {
      again = await restart({ ...ctx, signal: new AbortController().signal }, 'rollback');
    } catch (error) {
      throw new UserFacingError(
        `${reason}. Rolled back: Secret ${namespace}/${secret} has the previous ${change.what} again (${change.describe(current)}), but restarting Deployment ${namespace}/${deployment} failed (${(error as Error).message}): its pods may still run with the new values until they restart.`,
      );
    }
    if (!again.done) {
      throw new UserFacingError(
        `${reason}. Rolled back: Secret ${namespace}/${secret} has the previous ${change.what} again (${change.describe(current)}) and Deployment ${namespace}/${deployment} was restarted, but that rollout is ${rolloutProblem(again, timeout)}.`,
      );
    }
    const after = await change.verify(current).catch((error: Error) => ({ ok: false, lines: [], summary: error.message }) satisfies Verification);
    const verdict = after.ok ? 'With the previous values the check passes again.' : `With the previous values the check fails too (${after.summary}): the new values are probably not the cause.`;
    throw new UserFacingError(
      `${reason}. Rolled back: Secret ${namespace}/${secret} has the previous ${change.what} again (${change.describe(current)}) and Deployment ${namespace}/${deployment} was restarted and is ready. ${verdict} The new values were not kept.`,
    );
  };

  let rollout: RolloutOutcome;
  try {
    rollout = await restart(ctx, 'to load the new values');
  } catch (error) {
    return rollback(`Restarting the backend failed: ${(error as Error).message}`);
  }
  if (!rollout.done) return rollback(`The backend did not become ready with the new values (${rolloutProblem(rollout, timeout)})`);
  await ctx.step(`Ready: ${rollout.message}. Checking…`);
  const verification = await verifyWithRetries(() => change.verify(change.values), ctx.signal);
  for (const line of verification.lines) await ctx.step(line);
  if (!verification.ok) return rollback(verification.summary);
  return { previous, verification };
}

/** Puts back the touched keys, only while they still hold what this rotation wrote. */
async function restoreKeys(
  ctx: ApplyContext,
  change: SecretChange,
  previous: Map<string, string | undefined>,
): Promise<{ restored: true } | { restored: false; problem: string; oursInPlace: boolean }> {
  const { namespace, secret } = targets(ctx.config);
  for (let attempt = 0; attempt < 3; attempt++) {
    let now;
    try {
      now = await readSecret(ctx.kube, namespace, secret);
    } catch (error) {
      return { restored: false, problem: (error as Error).message, oursInPlace: true };
    }
    const ours = [...change.values].every(([key, value]) => now.values.get(key) === value);
    if (!ours) return { restored: false, problem: `someone else changed ${[...change.values.keys()].join(' or ')} in the meantime, so the bot did not overwrite them.`, oursInPlace: false };
    try {
      await patchSecretKeys(ctx.kube, namespace, secret, previous, now.resourceVersion);
      return { restored: true };
    } catch (error) {
      if (error instanceof SecretConflict) continue;
      return { restored: false, problem: (error as Error).message, oursInPlace: true };
    }
  }
  return { restored: false, problem: 'the Secret kept changing under the bot (409 three times).', oursInPlace: true };
}
