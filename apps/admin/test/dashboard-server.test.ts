import { request } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { type Connection, createMemoryTransport } from '@taskwire/core';
import { afterEach, describe, expect, it } from 'vitest';
import { type Dashboard, startDashboard } from '../src/index.js';
import { runAdmin } from './helpers.js';

const transport = createMemoryTransport();
const open: { dashboard?: Dashboard; connection?: Connection }[] = [];
let engine = 0;
afterEach(async () => {
  for (const { dashboard, connection } of open.splice(0)) {
    await dashboard?.close();
    await connection?.close();
  }
});

async function start(options: { token?: string; host?: string } = {}, queues = 0) {
  const connection = await transport.connect({ url: `memory://dashboard-${process.pid}-${++engine}` });
  open.push({ connection });
  for (let i = 0; i < queues; i++) await connection.queue(`q${i}`);
  const dashboard = await startDashboard({ connection, port: 0, intervalMs: 60_000, ...options });
  open.push({ dashboard });
  return dashboard;
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** One HTTP request with exactly these headers (fetch would not let a test set Host). */
function call(
  port: number,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: body === undefined ? 'GET' : 'POST', headers },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('the dashboard server', () => {
  it('refuses to listen off loopback without a token, from the API and from the CLI', async () => {
    const connection = await transport.connect({ url: `memory://dashboard-${process.pid}-${++engine}` });
    open.push({ connection });
    await expect(startDashboard({ connection, host: '0.0.0.0', port: 0 })).rejects.toThrow(
      'the dashboard needs --token (or TASKWIRE_DASHBOARD_TOKEN) to listen on 0.0.0.0',
    );
    const refused = await runAdmin(['dashboard', '--host', '0.0.0.0', '--transport', 'memory']);
    expect(refused).toMatchObject({
      code: 2,
      stderr:
        'taskwire: error: the dashboard needs --token (or TASKWIRE_DASHBOARD_TOKEN) to listen on 0.0.0.0\n',
    });
  });

  it('with a token, every API request must carry it; the page itself is public', async () => {
    const dashboard = await start({ token: 's3cret-token' });
    expect(dashboard.url).toBe(`http://127.0.0.1:${dashboard.port}/#token=s3cret-token`);
    expect((await call(dashboard.port, '/api/state')).status).toBe(401);
    expect((await call(dashboard.port, '/api/state', { authorization: 'Bearer wrong' })).status).toBe(401);
    expect((await call(dashboard.port, '/api/state', { authorization: 'Bearer s3cret-token' })).status).toBe(
      200,
    );
    const action = await call(
      dashboard.port,
      '/api/dead/purge',
      { authorization: 'Bearer s3cret-tokem', 'content-type': 'application/json' },
      '{"queue":"tasks"}',
    );
    expect(action.status).toBe(401);
    expect((await call(dashboard.port, '/')).status).toBe(200);
  });

  it('without a token, answers only requests addressed to a loopback host (no DNS rebinding)', async () => {
    const dashboard = await start();
    const state = await call(dashboard.port, '/api/state', { host: `127.0.0.1:${dashboard.port}` });
    expect(state.status).toBe(200);
    expect(JSON.parse(state.body.toString())).toMatchObject({ transport: 'memory', intervalMs: 60_000 });
    expect((await call(dashboard.port, '/api/state', { host: `localhost:${dashboard.port}` })).status).toBe(
      200,
    );
    expect((await call(dashboard.port, '/api/state', { host: 'evil.example' })).status).toBe(403);
  });

  it('takes actions only as JSON (no form post from another site)', async () => {
    const dashboard = await start();
    const host = `127.0.0.1:${dashboard.port}`;
    const form = await call(
      dashboard.port,
      '/api/dead/purge',
      { host, 'content-type': 'application/x-www-form-urlencoded' },
      'queue=tasks',
    );
    expect(form.status).toBe(415);
    const noQueue = await call(
      dashboard.port,
      '/api/dead/purge',
      { host, 'content-type': 'application/json' },
      '{}',
    );
    expect(noQueue.status).toBe(400);
    expect(JSON.parse(noQueue.body.toString())).toEqual({ error: 'a queue name is required' });
  });

  it('serves the page and uPlot from the package, gzipped when asked', async () => {
    const dashboard = await start();
    const page = await call(dashboard.port, '/', { 'accept-encoding': 'gzip' });
    expect(page.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(page.body).toString()).toContain('<script src="vendor/uPlot.iife.min.js"></script>');
    const uplot = await call(dashboard.port, '/vendor/uPlot.iife.min.js');
    expect(uplot.status).toBe(200);
    expect(uplot.body.toString()).toContain('uPlot');
    expect((await call(dashboard.port, '/../package.json')).status).toBe(404);
  });

  it('sends a large state gzipped when asked, and the samples newer than ?since= only', async () => {
    const dashboard = await start({}, 30);
    const host = `127.0.0.1:${dashboard.port}`;
    const state = await call(dashboard.port, '/api/state', { host, 'accept-encoding': 'gzip' });
    expect(state.headers['content-encoding']).toBe('gzip');
    const value = JSON.parse(gunzipSync(state.body).toString()) as {
      queues: { name: string }[];
      history: Record<string, { t: number; ready: number }[]>;
    };
    expect(value.queues).toHaveLength(30);
    expect(value.history.q7).toEqual([expect.objectContaining({ ready: 0, dead: 0 })]);
    const t = value.history.q7![0]!.t;
    const newer = await call(dashboard.port, `/api/state?since=${t}`, { host });
    expect(newer.headers['content-encoding']).toBeUndefined();
    expect((JSON.parse(newer.body.toString()) as typeof value).history.q7).toEqual([]);
  });
});
