/**
 * Runbook "Rotate JWT Secrets", after a lead's approval (possibly delayed to the requested time):
 * generate JWT_SECRET and SECRET_KEY (32 secure random bytes each, URL-safe), write them into the
 * backend's Secret, restart and wait, check /health; on failure put the previous values back and
 * restart again. The new values exist only in this process's memory and in the Secret.
 */
import type { JobDefinition } from '../src/core/types.ts';
import type { Reply } from '../src/core/result.ts';
import { applySecretChange, targets } from '../commands/rotate/apply.ts';
import { JWT_KEYS, describeJwt, generateSecret, healthVerification } from '../commands/rotate/jwt.ts';
import type { JwtParams } from '../commands/rotate/jwt.ts';
import { RotationRecords } from '../commands/rotate/records.ts';

export const ROTATE_JWT_JOB = 'rotate-jwt';

export type RotateJwtData = JwtParams;

export const rotateJwtJob: JobDefinition<RotateJwtData> = {
  name: ROTATE_JWT_JOB,
  title: (data) => `JWT secret rotation (ends every session)${data.at ? ` at ${data.at.replace('.000Z', 'Z')}` : ''}`,
  onFailureNextStep: 'Check the backend (`/autostack logs backend`); the message above says which values the backend has now.',

  async process(run): Promise<Reply> {
    const { namespace, secret } = targets(run.config);
    const values = new Map<string, string>(JWT_KEYS.map((key) => [key, generateSecret()]));
    const outcome = await applySecretChange(
      { kube: run.clients.kube(), config: run.config, clock: run.clients.clock, signal: run.signal, step: (text) => run.step(text) },
      {
        what: 'JWT_SECRET and SECRET_KEY',
        values,
        keepPrevious: false,
        describe: describeJwt,
        verify: () => healthVerification(run.clients.http, run.config, run.signal),
      },
    );
    const now = run.clients.clock.now();
    await RotationRecords.of(run.clients.redis, run.config).record('jwt', now, run.requestedBy, 'generated');
    await run.audit.record({ actor: run.requestedBy, action: 'rotate jwt', result: 'rotated', channel: run.channel, detail: `${describeJwt(outcome.previous)} → ${describeJwt(values)}; health check passed` });
    let notified = '';
    if (run.data.notify) {
      notified = await run.clients.slack.chat
        .postMessage({ channel: run.data.notify, text: ':key: The AutoStack session secrets were rotated: everyone has been signed out. Please sign in again.' })
        .then(
          () => ` Users were told in <#${run.data.notify}>.`,
          (error: Error) => ` Telling <#${run.data.notify}> failed (${error.message}).`,
        );
    }
    return {
      summary: `JWT_SECRET and SECRET_KEY rotated; the backend is healthy. Every session has ended.${notified}`,
      parts: [
        { kind: 'text', text: `:white_check_mark: New JWT_SECRET and SECRET_KEY are in Secret ${namespace}/${secret} (${describeJwt(values)}) and the backend runs with them.` },
        { kind: 'text', text: outcome.verification.lines.join('\n') },
        { kind: 'context', text: `Every existing session and token is invalid now.${notified} Next rotation due in ${run.config.rotation.jwt} days.` },
      ],
      visibility: 'channel',
    };
  },
};
