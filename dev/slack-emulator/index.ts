/**
 * Local emulation of Slack for the console mode and the tests: the Web API server
 * (SlackEmulator), request signing and the request bodies Slack sends to an app, Block Kit
 * validation and a plain-text rendering of blocks.
 */
export { SlackEmulator } from './emulator.ts';
export type {
  AddUserMessageOptions,
  BlockActionOptions,
  InteractionRequest,
  ResponseUrlOptions,
  SlashCommandOptions,
  SlashCommandRequest,
  ViewSubmissionOptions,
  ViewSubmissionOutcome,
  ViewSubmissionResult,
} from './emulator.ts';
export {
  FORM_CONTENT_TYPE,
  JSON_CONTENT_TYPE,
  blockActionsPayload,
  buildBlockActions,
  buildViewSubmission,
  computeSlackSignature,
  findElement,
  interactivityBody,
  randomTriggerId,
  sendSigned,
  signSlackRequest,
  slashCommandBody,
  slashCommandFields,
  stateValueFor,
  viewSubmissionPayload,
} from './signing.ts';
export type {
  ActionInput,
  BlockActionsInput,
  ChannelRef,
  SendSignedOptions,
  SignedResponse,
  SlackSignatureHeaders,
  SlashCommandInput,
  UserRef,
  ViewSubmissionInput,
} from './signing.ts';
export { LIMITS, validateBlocks, validateMessagePayload, validateView } from './validation.ts';
export type { MessageCheck, Surface } from './validation.ts';
export { blockToText, blocksToText, messageToText } from './render.ts';
export { EMULATOR_DEFAULTS } from './types.ts';
export type * from './types.ts';
