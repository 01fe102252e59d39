/** Queue `rotate-oauth`: the approved GitHub or Google OAuth credential rotation (commands/rotate/operations.ts). */
import { operationJob } from '../src/core/operation.ts';
import { oauthOperation } from '../commands/rotate/operations.ts';

export const rotateOAuthJob = operationJob('rotate-oauth', oauthOperation);
