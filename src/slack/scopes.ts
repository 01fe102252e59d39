/**
 * The bot scope each Web API method the code calls needs (https://api.slack.com/methods).
 * The manifest test derives the least scopes from the calls in the source through this table.
 */
export const METHOD_SCOPES: Record<string, string | null> = {
  'auth.test': null,
  'chat.postMessage': 'chat:write',
  'chat.update': 'chat:write',
  'chat.postEphemeral': 'chat:write',
  'chat.getPermalink': null,
  'files.uploadV2': 'files:write',
  'views.open': null,
  'views.update': null,
  'views.push': null,
  'views.publish': null,
  'usergroups.users.list': 'usergroups:read',
  'users.info': 'users:read',
  'conversations.info': 'channels:read',
  'conversations.replies': 'channels:history',
  /** Approval requests by DM (approvals.verbs.<verb>.dm). */
  'conversations.open': 'im:write',
  'conversations.create': 'channels:manage',
  'conversations.invite': 'channels:manage',
  'conversations.setTopic': 'channels:manage',
  'pins.add': 'pins:write',
};

/** Scopes granted for capabilities rather than a method: the slash command, and posting where not invited. */
export const CAPABILITY_SCOPES = {
  commands: 'the /autostack slash command',
  'chat:write.public': 'status and alert threads in ops and incident channels the bot was not invited to',
} as const;
