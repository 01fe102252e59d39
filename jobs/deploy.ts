/** Queue `deploy`: the confirmed or approved deploy of an image tag (commands/deploy/operation.ts). */
import { operationJob } from '../src/core/operation.ts';
import { deployOperation } from '../commands/deploy/operation.ts';

export const deployJob = operationJob('deploy', deployOperation);
