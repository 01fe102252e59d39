/**
 * Slack's side of Socket Mode: `apps.connections.open` hands out a WebSocket URL; the app connects,
 * receives `hello`, then envelopes (slash_commands, interactive, events_api) that it acknowledges
 * with their envelope_id, optionally carrying a response payload (https://api.slack.com/apis/socket-mode).
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';

export type EnvelopeType = 'slash_commands' | 'interactive' | 'events_api';

export class SocketModeHub {
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly tickets = new Set<string>();
  private readonly sockets = new Set<WebSocket>();
  private readonly waiting = new Map<string, (payload: unknown) => void>();

  constructor(server: Server) {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const ticket = new URL(req.url ?? '/', 'http://localhost').searchParams.get('ticket');
      if (!req.url?.startsWith('/link') || !ticket || !this.tickets.delete(ticket)) {
        socket.end('HTTP/1.1 401 Unauthorized\r\n\r\n');
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws));
    });
  }

  /** A fresh single-use connection URL, as apps.connections.open returns it. */
  connectionUrl(baseWsUrl: string): string {
    const ticket = randomUUID();
    this.tickets.add(ticket);
    return `${baseWsUrl}/link/?ticket=${ticket}&app_id=emulator`;
  }

  get connected(): number {
    return this.sockets.size;
  }

  /** Sends an envelope to a connected app and resolves with the payload of its acknowledgement. */
  deliver(type: EnvelopeType, payload: Record<string, unknown>, timeoutMs = 5000): Promise<unknown> {
    const socket = [...this.sockets][0];
    if (!socket) return Promise.reject(new Error('no app is connected over Socket Mode'));
    const envelopeId = randomUUID();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(envelopeId);
        reject(new Error(`the app did not acknowledge envelope ${envelopeId} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(envelopeId, (ack) => {
        clearTimeout(timer);
        resolve(ack);
      });
      socket.send(JSON.stringify({ envelope_id: envelopeId, type, payload, accepts_response_payload: type !== 'events_api', retry_attempt: 0, retry_reason: '' }));
    });
  }

  close(): void {
    for (const socket of this.sockets) socket.terminate();
    this.wss.close();
  }

  private accept(ws: WebSocket): void {
    this.sockets.add(ws);
    ws.on('close', () => this.sockets.delete(ws));
    ws.on('message', (data) => {
      const message = JSON.parse(String(data)) as { envelope_id?: string; payload?: unknown };
      const resolve = message.envelope_id ? this.waiting.get(message.envelope_id) : undefined;
      if (resolve && message.envelope_id) {
        this.waiting.delete(message.envelope_id);
        resolve(message.payload);
      }
    });
    ws.send(JSON.stringify({ type: 'hello', num_connections: this.sockets.size, debug_info: { host: 'emulator', approximate_connection_time: 18060 }, connection_info: { app_id: 'emulator' } }));
  }
}
