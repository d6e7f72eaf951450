import { randomBytes } from 'node:crypto';
import {
  ConfigError,
  type Connection,
  createMemoryTransport,
  MEMORY_CAPABILITIES,
  QueueEmptyError,
} from '@taskwire/core';
import { afterEach, describe, expect, it } from 'vitest';
import createNamespacedTransport, { UNRESOLVED_CAPABILITIES } from '../src/index.js';

const opened: Connection[] = [];

afterEach(async () => {
  await Promise.allSettled(opened.splice(0).map((connection) => connection.close()));
});

/** A memory engine no other test uses, and `track`ed connections to it. */
function engine() {
  const url = `memory://isolation-${randomBytes(4).toString('hex')}`;
  const track = async (connection: Promise<Connection>) => {
    opened.push(await connection);
    return opened.at(-1)!;
  };
  return {
    /** A namespaced connection; the inner transport is chosen from the memory:// URL. */
    tenant: (namespace: string) => track(createNamespacedTransport({ namespace }).connect({ url })),
    /** A plain memory connection that sees the backend's real queue names. */
    raw: () => track(createMemoryTransport().connect({ url })),
  };
}

describe('namespaced transport', () => {
  it('two namespaces on one memory engine do not see each other’s items', async () => {
    const { tenant, raw } = engine();
    const a = await (await tenant('tenant-a')).queue<string>('jobs');
    const b = await (await tenant('tenant-b')).queue<string>('jobs');
    await a.put('for-a');
    expect(a.name).toBe('jobs');
    expect(b.name).toBe('jobs');
    expect(await b.size()).toBe(0);
    await expect(b.get({ timeoutMs: 50 })).rejects.toSatisfy(QueueEmptyError.isInstance);

    const inner = await (await raw()).queue<string>('tenant-a:jobs');
    expect(inner.name).toBe('tenant-a:jobs');
    expect(await inner.size()).toBe(1);
    const delivery = await inner.get({ timeoutMs: 1000 });
    expect(delivery.body).toBe('for-a');
    await delivery.ack();
    expect(await a.size()).toBe(0);
  });

  it('prefixes the dead-letter queue and broadcast channels too', async () => {
    const { tenant, raw } = engine();
    const connection = await tenant('tenant-a');
    const source = await connection.queue<string>('work', { deadLetter: 'dead' });
    await source.put('poison');
    await (await source.get({ timeoutMs: 1000 })).nack({ requeue: false });
    const dead = await (await raw()).queue<string>('tenant-a:dead');
    expect((await dead.get({ timeoutMs: 1000 })).body).toBe('poison');

    const heard: Record<string, string[]> = { own: [], other: [], inner: [] };
    await connection.subscribe<string>('news', (message) => heard.own!.push(message));
    await (await tenant('tenant-b')).subscribe<string>('news', (message) => heard.other!.push(message));
    await (await raw()).subscribe<string>('tenant-a:news', (message) => heard.inner!.push(message));
    await connection.publish('news', 'hello');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(heard).toEqual({ own: ['hello'], other: [], inner: ['hello'] });
  });

  it('copies the inner transport’s capabilities once the URL has chosen it', async () => {
    const transport = createNamespacedTransport({ namespace: 'caps' });
    expect(transport).toMatchObject({ name: 'namespaced', schemes: [] });
    expect(transport.capabilities).toEqual(UNRESOLVED_CAPABILITIES);
    const connection = await transport.connect({ url: `memory://caps-${randomBytes(4).toString('hex')}` });
    opened.push(connection);
    expect(connection.transport).toBe(transport);
    expect(transport.capabilities).toEqual(MEMORY_CAPABILITIES);
    expect(createNamespacedTransport({ inner: createMemoryTransport() }).capabilities).toEqual(
      MEMORY_CAPABILITIES,
    );
  });

  it('takes the namespace from TASKWIRE_NAMESPACE, then defaults to "example"', () => {
    const saved = process.env.TASKWIRE_NAMESPACE;
    try {
      process.env.TASKWIRE_NAMESPACE = 'from-env';
      expect(createNamespacedTransport().namespace).toBe('from-env');
      delete process.env.TASKWIRE_NAMESPACE;
      expect(createNamespacedTransport().namespace).toBe('example');
      expect(createNamespacedTransport({ namespace: 'explicit' }).namespace).toBe('explicit');
    } finally {
      if (saved === undefined) delete process.env.TASKWIRE_NAMESPACE;
      else process.env.TASKWIRE_NAMESPACE = saved;
    }
  });

  it('refuses a bad namespace, an empty queue name and an unusable URL with clear errors', async () => {
    expect(() => createNamespacedTransport({ namespace: 'a:b' })).toThrow(ConfigError);
    expect(() => createNamespacedTransport({ namespace: '' })).toThrow(/invalid namespace ""/);
    const { tenant } = engine();
    await expect((await tenant('t')).queue('')).rejects.toThrow(TypeError);
    const transport = createNamespacedTransport({ namespace: 't' });
    await expect(transport.connect({ url: '127.0.0.1:5555' })).rejects.toThrow(
      /cannot choose the inner transport from URL/,
    );
    await expect(transport.connect({ url: 'nope://host' })).rejects.toSatisfy(ConfigError.isInstance);
  });

  it('offers serve() only when the inner transport can host', () => {
    expect(createNamespacedTransport({ inner: createMemoryTransport() }).serve).toBeUndefined();
    expect(createNamespacedTransport().serve).toBeTypeOf('function');
  });
});
