/** A Bolt receiver fed by the console: it hands each request to the App and returns the ack. */
import type { App, Receiver } from '@slack/bolt';

export class ConsoleReceiver implements Receiver {
  private app?: App;

  init(app: App): void {
    this.app = app;
  }

  async start(): Promise<void> {}

  async stop(): Promise<void> {}

  /** Processes one request body (slash command fields or interaction payload); resolves with the ack's answer. */
  async deliver(body: Record<string, unknown>): Promise<unknown> {
    if (!this.app) throw new Error('console receiver is not attached to an app');
    let answer: unknown;
    let acknowledged = false;
    await this.app.processEvent({
      body,
      ack: async (response?: unknown) => {
        if (acknowledged) return;
        acknowledged = true;
        answer = response;
      },
    });
    return answer;
  }
}
