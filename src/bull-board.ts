/**
 * The BullMQ dashboard, off by default: on its own port, behind basic auth with the configured
 * password, so it never shares the Slack endpoint's exposure.
 */
import { createServer, type Server } from 'node:http';
import { timingSafeEqual, createHash } from 'node:crypto';
import express from 'express';
import type { Queue } from 'bullmq';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';

export const BULL_BOARD_USER = 'admin';

function sameSecret(a: string, b: string): boolean {
  // Hashing first makes the comparison constant-time whatever the lengths.
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

export async function startBullBoard(queue: Queue, password: string, port: number, host = '0.0.0.0'): Promise<Server> {
  const adapter = new ExpressAdapter();
  adapter.setBasePath('/');
  createBullBoard({ queues: [new BullMQAdapter(queue, { readOnlyMode: false })], serverAdapter: adapter });
  const app = express();
  app.use((req, res, next) => {
    const header = req.headers.authorization ?? '';
    const [scheme, encoded] = header.split(' ');
    const [user, given] = scheme === 'Basic' && encoded ? Buffer.from(encoded, 'base64').toString('utf8').split(/:(.*)/s) : [];
    if (user === BULL_BOARD_USER && given !== undefined && sameSecret(given, password)) return next();
    res.setHeader('WWW-Authenticate', 'Basic realm="autostack jobs"');
    res.status(401).send('authentication required');
  });
  app.use('/', adapter.getRouter());
  const server = createServer(app);
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return server;
}
