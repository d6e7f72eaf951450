import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  createMemoryTransport,
  findTransport,
  knownSchemes,
  knownTransports,
  MemoryTransport,
  redactUrl,
  registerTransport,
  resolveTransport,
} from '../src/index.js';

describe('transport registry', () => {
  it('passes a transport instance through', async () => {
    const transport = createMemoryTransport();
    expect(await resolveTransport(transport)).toBe(transport);
  });

  it('resolves a registered name and a URL scheme', async () => {
    expect(await resolveTransport('memory')).toBeInstanceOf(MemoryTransport);
    expect(await resolveTransport('memory://jobs')).toBeInstanceOf(MemoryTransport);
    expect(await resolveTransport({ type: 'memory' })).toBeInstanceOf(MemoryTransport);
  });

  it('imports a built-in transport package lazily through the given importer', async () => {
    const imported: string[] = [];
    const fake = createMemoryTransport();
    const transport = await resolveTransport('redis://127.0.0.1:6379', {
      importModule: async (specifier) => {
        imported.push(specifier);
        return { default: fake };
      },
    });
    expect(transport).toBe(fake);
    expect(imported).toEqual(['@taskwire/transport-redis']);
  });

  it('loads a transport from a file path whose default export is a factory, with options', async () => {
    const path = new URL('./fixtures/custom-transport.mjs', import.meta.url).pathname;
    const transport = await resolveTransport(path, { options: { flavour: 'x' } });
    expect(transport.name).toBe('custom');
    expect((transport as unknown as { options: unknown }).options).toEqual({ flavour: 'x' });
  });

  it('registers a third-party transport by name and scheme', async () => {
    const fake = createMemoryTransport();
    registerTransport('nats', () => fake, { schemes: ['nats'] });
    expect(await resolveTransport('nats')).toBe(fake);
    expect(await resolveTransport('nats://127.0.0.1:4222')).toBe(fake);
    expect(knownTransports()).toContain('nats');
  });

  it('a registration carries its schemes and default URL', () => {
    registerTransport('natslike', () => createMemoryTransport(), {
      schemes: ['natslike', 'NatsLikeS'],
      defaultUrl: 'natslike://127.0.0.1:4222',
    });
    const expected = {
      name: 'natslike',
      schemes: ['natslike', 'natslikes'],
      defaultUrl: 'natslike://127.0.0.1:4222',
    };
    expect(findTransport('natslike')).toEqual(expected);
    expect(findTransport('natslikes://host:1')).toEqual(expected);
    expect(knownSchemes()).toEqual(expect.arrayContaining(['natslike', 'natslikes']));
    expect(findTransport('redis')?.defaultUrl).toBe('redis://127.0.0.1:6379');
    expect(findTransport('./a/file.js')).toBeUndefined();
    expect(() => registerTransport('bad', () => createMemoryTransport(), { schemes: ['no/slash'] })).toThrow(
      TypeError,
    );
  });

  it('rejects an unknown name with a ConfigError listing the known transports', async () => {
    const error = await resolveTransport('kafak').then(
      () => new Error('resolved'),
      (e: unknown) => e as Error,
    );
    expect(ConfigError.isInstance(error)).toBe(true);
    expect(error.message).toMatch(
      /unknown transport "kafak"; known transports: memory, tcp, redis, rabbitmq/,
    );
    expect(error.message.includes('\n')).toBe(false);
  });

  it('rejects an unknown URL scheme without leaking its password', async () => {
    const error = await resolveTransport('zmq://user:s3cret@host:1').then(
      () => new Error('resolved'),
      (e: unknown) => e as Error,
    );
    expect(ConfigError.isInstance(error)).toBe(true);
    expect(error.message).not.toContain('s3cret');
  });

  it('rejects a module that does not export a transport', async () => {
    const path = new URL('./fixtures/not-a-transport.mjs', import.meta.url).pathname;
    await expect(resolveTransport(path)).rejects.toThrow(/does not export a transport/);
    await expect(resolveTransport('./no/such/file.js')).rejects.toThrow(ConfigError);
  });

  it('redacts passwords in URLs', () => {
    expect(redactUrl('redis://user:pw@host:6379/0')).toBe('redis://user:***@host:6379/0');
    expect(redactUrl('amqp://token@host')).toBe('amqp://***@host');
    expect(redactUrl('tcp://127.0.0.1:5555')).toBe('tcp://127.0.0.1:5555');
  });
});
