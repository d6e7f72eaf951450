import { randomBytes } from 'node:crypto';
import type { Connection, HostedServer } from '@taskwire/core';
import { createTcpTransport } from '@taskwire/transport-tcp';
import { afterEach, describe, expect, it } from 'vitest';
import createNamespacedTransport from '../src/index.js';

const authkey = randomBytes(16).toString('hex');
const cleanup: (Connection | HostedServer)[] = [];

afterEach(async () => {
  for (const resource of cleanup.splice(0).reverse()) await resource.close();
});

const keep = <T extends Connection | HostedServer>(resource: T): T => {
  cleanup.push(resource);
  return resource;
};

describe('namespaced transport hosting the TCP manager', () => {
  it('serves namespaced queues in-process that remote namespaced clients share', async () => {
    const transport = createNamespacedTransport({ namespace: 'hosted' });
    const server = keep(await transport.serve!({ host: '127.0.0.1', port: 0, authkey }));
    expect(server.url).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);

    const local = await keep(await server.connect()).queue<number>('tasks');
    await local.put(7);
    const remote = await keep(await transport.connect({ url: server.url, authkey })).queue<number>('tasks');
    expect(remote.name).toBe('tasks');
    const delivery = await remote.get({ timeoutMs: 5000 });
    expect(delivery.body).toBe(7);
    await delivery.ack();

    // The TCP manager itself only knows the prefixed name.
    await local.put(8);
    const raw = await keep(await createTcpTransport().connect({ url: server.url, authkey })).queue<number>(
      'hosted:tasks',
    );
    expect(await raw.size()).toBe(1);
  });
});
