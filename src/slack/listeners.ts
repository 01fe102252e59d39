/**
 * Registers the Bolt listeners. Each acknowledges first (Slack's 3-second limit), then waits for
 * the replay check shared by the replicas (request-guard.ts) and hands the request to the
 * dispatcher; the transport behind the App (HTTP, Socket Mode, console) is unknown here.
 */
import type { App, BlockAction, ButtonAction, Context, ViewSubmitAction } from '@slack/bolt';
import type { Logger } from 'pino';
import type { Dispatcher } from '../core/dispatcher.ts';
import { actionOf, modalValues } from '../render/blockkit.ts';
import { sharedFirstSighting } from './request-guard.ts';
import { slackSurface } from './surface.ts';

export const SLASH_COMMAND = '/autostack';

export function registerListeners(app: App, dispatcher: Dispatcher, log: Logger): void {
  /** Runs `work` once no other replica accepted the same request first; a replay runs nothing and is audited. */
  const once = (context: Context, userId: string, channelId: string, what: string, work: () => Promise<unknown>) =>
    dispatcher.track(async () => {
      if (await sharedFirstSighting(context)) await work();
      else await dispatcher.replayed(userId, channelId, what);
    });

  app.command(SLASH_COMMAND, async ({ ack, command, respond, client, context }) => {
    await ack();
    const surface = slackSurface({ client, respond, log, userId: command.user_id, channelId: command.channel_id, triggerId: command.trigger_id });
    await once(context, command.user_id, command.channel_id, `${SLASH_COMMAND} ${command.text}`, () =>
      dispatcher.command({ text: command.text, userId: command.user_id, channelId: command.channel_id }, surface),
    );
  });

  app.action<BlockAction<ButtonAction>>({ type: 'block_actions' }, async ({ ack, body, action, respond, client, context }) => {
    await ack();
    const channelId = body.channel?.id ?? body.container?.channel_id ?? '';
    const surface = slackSurface({ client, respond, log, userId: body.user.id, channelId, triggerId: body.trigger_id });
    const message = body.message ? { ts: body.message.ts, threadTs: body.message.thread_ts as string | undefined } : undefined;
    await once(context, body.user.id, channelId, `button ${action.action_id}`, () =>
      dispatcher.action({ actionId: actionOf(action.action_id), value: action.value ?? '', userId: body.user.id, channelId, message }, surface),
    );
  });

  app.event('app_home_opened', async ({ event, client, context }) => {
    if (event.tab !== 'home') return;
    const surface = slackSurface({ client, userId: event.user, channelId: '' });
    await once(context, event.user, '', 'App Home opened', () => dispatcher.home(event.user, surface));
  });

  app.view<ViewSubmitAction>({ type: 'view_submission' }, async ({ ack, body, view, client, context }) => {
    const surface = slackSurface({ client, userId: body.user.id, channelId: '', triggerId: body.trigger_id });
    // A form's answer (its errors) is the acknowledgement itself, so the replay check comes first here.
    if (!(await sharedFirstSighting(context))) {
      await ack();
      await dispatcher.replayed(body.user.id, '', `form ${view.callback_id}`);
      return;
    }
    try {
      const errors = await dispatcher.view({ callbackId: view.callback_id, metadata: view.private_metadata, values: modalValues(view.state), userId: body.user.id }, surface);
      await ack(errors ? { response_action: 'errors', errors } : undefined);
    } catch (error) {
      log.error({ err: (error as Error).message }, 'view handling failed');
      await ack({ response_action: 'errors', errors: { [Object.keys(view.state.values)[0] ?? 'form']: 'Something went wrong; try again.' } });
    }
  });
}
