/** The anchor: a bare Bolt app that only acknowledges /autostack, in a process of its own. */
import { App, HTTPReceiver, LogLevel } from '@slack/bolt';

const app = new App({
  token: process.env.SLACK_BOT_TOKEN,
  receiver: new HTTPReceiver({ signingSecret: process.env.SLACK_SIGNING_SECRET!, processBeforeResponse: false, logLevel: LogLevel.ERROR }),
  logLevel: LogLevel.ERROR,
  clientOptions: { slackApiUrl: process.env.SLACK_API_URL },
});
app.command('/autostack', async ({ ack }) => {
  await ack();
});
await app.start(Number(process.env.PORT));
process.send?.('ready');
process.on('SIGTERM', () => void app.stop().finally(() => process.exit(0)));
