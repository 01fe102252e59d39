/** Socket Mode: the real SocketModeClient connects to the emulator's WebSocket and runs the same flows. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { createBot, type Bot } from '../../src/bot.ts';
import { parseConfig } from '../../src/config.ts';
import { randomSecretKey } from '../../src/core/secrets.ts';
import { freePort } from '../../dev/local-redis.ts';
import { SlackEmulator, messageToText } from '../../dev/slack-emulator/index.ts';
import { buttonsOf } from '../harness/bot.ts';
import { testServices, uniqueName } from '../harness/env.ts';

describe('Socket Mode', () => {
  const emulator = new SlackEmulator({ users: [{ id: 'U0SOCKET', name: 'sock' }, { id: 'U0LEAD', name: 'lead' }], channels: [{ id: 'C0OPS', name: 'ops' }] });
  let bot: Bot;
  let port: number;

  beforeAll(async () => {
    await emulator.start();
    port = await freePort();
    const config = parseConfig({
      slack: { apiUrl: emulator.apiUrl, botToken: emulator.botToken, appToken: emulator.appToken, port },
      redis: { url: testServices().redisUrl, prefix: uniqueName('socket') },
      access: { viewer: { users: ['U0SOCKET'] }, approver: { users: ['U0LEAD'] } },
    });
    bot = await createBot({ config, receiver: { kind: 'socket', appToken: emulator.appToken }, redisUrl: config.redis.url!, secretKey: randomSecretKey(), log: pino({ level: 'silent' }) });
    await bot.start(port);
    const deadline = Date.now() + 15_000;
    while (emulator.socketMode.connected === 0) {
      if (Date.now() > deadline) throw new Error('the app never connected over Socket Mode');
      await new Promise((r) => setTimeout(r, 50));
    }
  });
  afterAll(async () => {
    await bot.stop();
    await emulator.close();
  });

  it('acknowledges a slash command over the socket and answers through the response URL', async () => {
    const request = emulator.slashCommand({ user: 'U0SOCKET', channel: 'C0OPS', text: 'ping' });
    await emulator.socketMode.deliver('slash_commands', request.fields);
    await bot.dispatcher.settled();
    expect(emulator.ephemerals('U0SOCKET').map((e) => messageToText(e)).at(-1)).toBe('pong');
  });

  it('denies by role and handles button clicks over the socket', async () => {
    await emulator.socketMode.deliver('slash_commands', emulator.slashCommand({ user: 'U0SOCKET', channel: 'C0OPS', text: 'audit' }).fields);
    await bot.dispatcher.settled();
    expect(messageToText(emulator.ephemerals('U0SOCKET').at(-1)!)).toMatch(/not allowed to run `audit`/);

    await emulator.socketMode.deliver('slash_commands', emulator.slashCommand({ user: 'U0SOCKET', channel: 'C0OPS', text: 'ping --slow 20' }).fields);
    await bot.dispatcher.settled();
    const deadline = Date.now() + 15_000;
    let parent = emulator.channelMessages('C0OPS').find((m) => messageToText(m).includes('Ping with 20 steps') && buttonsOf(m.blocks).length);
    while (!parent) {
      if (Date.now() > deadline) throw new Error('no running job with a Cancel button');
      await new Promise((r) => setTimeout(r, 50));
      parent = emulator.channelMessages('C0OPS').find((m) => messageToText(m).includes('Ping with 20 steps') && buttonsOf(m.blocks).length);
    }
    const cancel = buttonsOf(parent.blocks).find((b) => b.label === 'Cancel')!;
    const click = emulator.blockAction({ user: 'U0SOCKET', actionId: cancel.actionId, channel: 'C0OPS', messageTs: parent.ts, action: { value: cancel.value } });
    await emulator.socketMode.deliver('interactive', click.payload);
    await bot.dispatcher.settled();
    expect(messageToText(emulator.ephemerals('U0SOCKET').at(-1)!)).toMatch(/Cancelling/);
  });

  it('serves health on its own port', async () => {
    const response = await fetch(`http://127.0.0.1:${port}/health`);
    expect(response.status).toBe(200);
  });
});
