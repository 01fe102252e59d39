/**
 * What `deploy <app> <image-tag> [reason]` means: the configured app (deploy.apps.<app>), the
 * image reference it will run and the container it goes into. Parsing is pure (no calls out).
 */
import type { V1Container, V1Deployment } from '@kubernetes/client-node';
import type { Config } from '../../src/config.ts';
import { UsageError, UserFacingError } from '../../src/core/types.ts';
import { ownValue } from '../../src/core/keys.ts';

export type AppConfig = Config['deploy']['apps'][string];

/** A Docker tag: up to 128 characters of [A-Za-z0-9_.-], not starting with "." or "-". */
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
/** A content digest, deployed as `<image>@sha256:<hex>`. */
const DIGEST = /^sha256:[a-f0-9]{64}$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
export const MAX_REASON = 300;

/** Words that are verbs after `deploy` (`deploy protected`, `deploy history`): never app names. */
export const RESERVED_APP_NAMES = new Set(['protected', 'history']);

export interface DeployParams {
  app: string;
  /** The tag (or sha256 digest) as typed. */
  tag: string;
  /** The full image reference that will run: `<image>:<tag>` or `<image>@sha256:...`. */
  image: string;
  reason: string;
}

export function configuredApp(config: Config, app: string): AppConfig {
  const declared = ownValue(config.deploy.apps, app);
  if (!declared) {
    const known = Object.keys(config.deploy.apps);
    throw new UsageError(
      known.length
        ? `"${app}" is not a deployable app; configured apps: ${known.join(', ')} (deploy.apps)`
        : 'no apps are configured for deploys yet (deploy.apps in the configuration)',
    );
  }
  return declared;
}

export function imageReference(repository: string, tag: string): string {
  return DIGEST.test(tag) ? `${repository}@${tag}` : `${repository}:${tag}`;
}

/** Parses `<app> <image-tag> [reason...]`; throws UsageError with what is wrong. */
export function parseDeploy(words: string[], config: Config): DeployParams {
  const [app, tag, ...rest] = words;
  if (!app) throw new UsageError('give the app and the image tag, e.g. `deploy backend v1.4.2`');
  if (!DNS_LABEL.test(app)) throw new UsageError(`"${app.slice(0, 80)}" is not a valid app name (lowercase letters, digits and "-")`);
  if (RESERVED_APP_NAMES.has(app)) throw new UsageError(`"${app}" cannot be deployed by name: it is a word of the deploy command; give the app another name in deploy.apps`);
  const declared = configuredApp(config, app);
  if (!tag) throw new UsageError(`give the image tag to deploy, e.g. \`deploy ${app} v1.4.2\``);
  if (!TAG.test(tag) && !DIGEST.test(tag)) {
    throw new UsageError(`"${tag.slice(0, 80)}" is not an image tag (letters, digits, "_", "." and "-", at most 128, not starting with "." or "-") nor a sha256: digest`);
  }
  const reason = rest.join(' ').trim();
  if (reason.length > MAX_REASON) throw new UsageError(`the reason is ${reason.length} characters; keep it under ${MAX_REASON}`);
  return { app, tag, image: imageReference(declared.image, tag), reason: reason || `deploy ${tag}` };
}

/** deploy.apps.<app>.container, else the container named like the Deployment, else the only one. */
export function appContainer(deployment: V1Deployment, app: AppConfig): { index: number; container: V1Container } {
  const containers = deployment.spec?.template?.spec?.containers ?? [];
  const name = deployment.metadata?.name ?? app.deployment;
  let index = -1;
  if (app.container) {
    index = containers.findIndex((c) => c.name === app.container);
    if (index < 0) throw new UserFacingError(`Deployment ${name} has no container ${app.container} (deploy.apps.*.container); it has ${containers.map((c) => c.name).join(', ') || 'none'}.`);
  } else {
    index = containers.findIndex((c) => c.name === name);
    if (index < 0 && containers.length === 1) index = 0;
    if (index < 0) {
      throw new UserFacingError(
        `Deployment ${name} has ${containers.length} containers (${containers.map((c) => c.name).join(', ')}) and none is named ${name}: set deploy.apps.*.container to the one to deploy.`,
      );
    }
  }
  return { index, container: containers[index]! };
}

/** The repository part of an image reference (without tag or digest). */
export function repositoryOf(image: string): string {
  const at = image.indexOf('@');
  const withoutDigest = at >= 0 ? image.slice(0, at) : image;
  const slash = withoutDigest.lastIndexOf('/');
  const colon = withoutDigest.lastIndexOf(':');
  return colon > slash ? withoutDigest.slice(0, colon) : withoutDigest;
}

/** The URL `/health` is checked at: deploy.apps.<app>.healthUrl; for "backend" the backend's /health. */
export function healthUrlFor(config: Config, app: string): string | undefined {
  const declared = ownValue(config.deploy.apps, app);
  if (declared?.healthUrl) return declared.healthUrl;
  if (app === 'backend') return `${config.backend.url.replace(/\/+$/, '')}/health`;
  return undefined;
}
