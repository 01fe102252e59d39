/** Queue `iam-rotate`: the approved first phase of "Rotate AWS IAM Role" (commands/iam/operations.ts). */
import { operationJob } from '../src/core/operation.ts';
import { rotateOperation } from '../commands/iam/operations.ts';

export const iamRotateJob = operationJob('iam-rotate', rotateOperation);
