import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  createMemoryTransport,
  MemoryTransport,
  registerTransport,
  resolveSettings,
  resolveTransport,
} from '../src/index.js';

// A third-party transport as its author would register it: its own name, two schemes and a
// default address. The memory transport stands in for the backend.
registerTransport('fakemq', () => createMemoryTransport(), {
  schemes: ['fakemq', 'fakemqs'],
  defaultUrl: 'fakemq://127.0.0.1:4222',
});

/** A directory with no config file, so the test sees only what it passes. */
const emptyDir = () => mkdtempSync(join(tmpdir(), 'taskwire-config-'));

/** A directory holding `taskwire.config.json` with `settings`. */
function configDir(settings: Record<string, string>): string {
  const dir = emptyDir();
  writeFileSync(join(dir, 'taskwire.config.json'), JSON.stringify(settings));
  return dir;
}

describe('settings resolution derives from the transport registry', () => {
  it('--transport with a registered third-party URL keeps the URL', async () => {
    const { settings } = await resolveSettings({
      flags: { transport: 'fakemq://host:1' },
      cwd: emptyDir(),
    });
    expect(settings.transport).toBe('fakemq');
    expect(settings.url).toBe('fakemq://host:1');
    expect(await resolveTransport(settings.transport)).toBeInstanceOf(MemoryTransport);
  });

  it('every scheme of the registration names it', async () => {
    const { settings } = await resolveSettings({ flags: { transport: 'FAKEMQS://host:2' }, cwd: emptyDir() });
    expect(settings).toMatchObject({ transport: 'fakemq', url: 'FAKEMQS://host:2' });
  });

  it('--url alone selects the registered transport', async () => {
    const { settings, origin } = await resolveSettings({
      flags: { url: 'fakemq://host:1' },
      cwd: emptyDir(),
    });
    expect(settings).toMatchObject({ transport: 'fakemq', url: 'fakemq://host:1' });
    expect(origin.transport).toBe('flag');
  });

  it('the registered default URL applies when no URL is given', async () => {
    const { settings } = await resolveSettings({ flags: { transport: 'fakemq' }, cwd: emptyDir() });
    expect(settings).toMatchObject({ transport: 'fakemq', url: 'fakemq://127.0.0.1:4222' });
  });

  it('works the same from the environment', async () => {
    const cwd = emptyDir();
    const byTransport = await resolveSettings({ env: { TASKWIRE_TRANSPORT: 'fakemq://env:1' }, cwd });
    expect(byTransport.settings).toMatchObject({ transport: 'fakemq', url: 'fakemq://env:1' });
    const byUrl = await resolveSettings({ env: { TASKWIRE_URL: 'fakemq://env:2' }, cwd });
    expect(byUrl.settings).toMatchObject({ transport: 'fakemq', url: 'fakemq://env:2' });
    expect(byUrl.origin.transport).toBe('env');
    const byName = await resolveSettings({ env: { TASKWIRE_TRANSPORT: 'fakemq' }, cwd });
    expect(byName.settings.url).toBe('fakemq://127.0.0.1:4222');
  });

  it('works the same from the config file', async () => {
    const byTransport = await resolveSettings({ cwd: configDir({ transport: 'fakemq://file:1' }) });
    expect(byTransport.settings).toMatchObject({ transport: 'fakemq', url: 'fakemq://file:1' });
    const byUrl = await resolveSettings({ cwd: configDir({ url: 'fakemq://file:2' }) });
    expect(byUrl.settings).toMatchObject({ transport: 'fakemq', url: 'fakemq://file:2' });
    expect(byUrl.origin.transport).toBe('config');
    const byName = await resolveSettings({ cwd: configDir({ transport: 'fakemq' }) });
    expect(byName.settings.url).toBe('fakemq://127.0.0.1:4222');
  });

  it('a URL flag beats the URL a weaker --transport carries', async () => {
    const { settings } = await resolveSettings({
      flags: { url: 'fakemq://flag:1' },
      env: { TASKWIRE_TRANSPORT: 'fakemq://env:1' },
      cwd: emptyDir(),
    });
    expect(settings).toMatchObject({ transport: 'fakemq', url: 'fakemq://flag:1' });
  });

  it('keeps the built-in defaults', async () => {
    const cwd = emptyDir();
    const defaults = await resolveSettings({ cwd });
    expect(defaults.settings).toMatchObject({
      transport: 'tcp',
      url: 'tcp://127.0.0.1:5555',
      queue: 'tasks',
    });
    const urls = await Promise.all(
      ['redis', 'rabbitmq', 'memory'].map(
        async (transport) => (await resolveSettings({ flags: { transport }, cwd })).settings.url,
      ),
    );
    expect(urls).toEqual(['redis://127.0.0.1:6379', 'amqp://127.0.0.1:5672', 'memory://']);
    const byUrl = await resolveSettings({ flags: { url: 'amqps://broker:5671' }, cwd });
    expect(byUrl.settings.transport).toBe('rabbitmq');
  });

  it('a package or file transport gets no default URL', async () => {
    const { settings } = await resolveSettings({
      flags: { transport: './my-transport.js' },
      cwd: emptyDir(),
    });
    expect(settings).toMatchObject({ transport: './my-transport.js', url: undefined });
  });

  it('rejects an unregistered URL scheme, listing the registered ones', async () => {
    const error = await resolveSettings({ flags: { url: 'zmq://host:1' }, cwd: emptyDir() }).then(
      () => new Error('resolved'),
      (e: unknown) => e as Error,
    );
    expect(ConfigError.isInstance(error)).toBe(true);
    expect(error.message).toBe(
      'unknown URL scheme "zmq://"; known: memory, tcp, tcps, redis, rediss, amqp, amqps, postgres, postgresql, nats, fakemq, fakemqs',
    );
  });
});
