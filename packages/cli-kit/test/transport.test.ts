import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, createMemoryTransport, MemoryTransport, resolveSettings } from '@taskwire/core';
import { describe, expect, it } from 'vitest';
import { connect, loadTransport, readAuthkey } from '../dist/index.js';

const settingsOf = async (flags: { transport?: string; url?: string; authkey?: string }) =>
  (await resolveSettings({ flags, cwd: mkdtempSync(join(tmpdir(), 'cli-kit-')) })).settings;

describe('loadTransport', () => {
  it('imports a transport package through the CLI’s importer', async () => {
    const imported: string[] = [];
    const memory = createMemoryTransport();
    const transport = await loadTransport(
      await settingsOf({ transport: 'redis://127.0.0.1:6379' }),
      async (s) => {
        imported.push(s);
        return { default: memory };
      },
    );
    expect(transport).toBe(memory);
    expect(imported).toEqual(['@taskwire/transport-redis']);
  });

  it('resolves a built-in name without importing anything', async () => {
    const transport = await loadTransport(await settingsOf({ transport: 'memory' }), async (s) => {
      throw new Error(`imported ${s}`);
    });
    expect(transport).toBeInstanceOf(MemoryTransport);
  });
});

describe('connect', () => {
  it('a tcp:// URL without an authkey is a ConfigError naming the flags', async () => {
    const settings = await settingsOf({ url: 'tcp://127.0.0.1:1' });
    const error = await connect(createMemoryTransport(), settings).then(
      () => new Error('connected'),
      (e: unknown) => e as Error,
    );
    expect(ConfigError.isInstance(error)).toBe(true);
    expect(error.message).toBe(
      'the TCP manager needs an authkey: pass --authkey, --authkey-file or set TASKWIRE_AUTHKEY',
    );
  });

  it('connects with the settings', async () => {
    const connection = await connect(createMemoryTransport(), await settingsOf({ transport: 'memory' }));
    const queue = await connection.queue<number>(`cli-kit-${process.pid}`);
    await queue.put(1);
    const delivery = await queue.get({ timeoutMs: 0 });
    expect(delivery.body).toBe(1);
    await delivery.ack();
    await connection.close();
  });
});

describe('readAuthkey', () => {
  it('reads the file without its trailing newline; the key itself wins', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'cli-kit-')), 'key');
    writeFileSync(file, 's3cret\n');
    expect(await readAuthkey({ authkeyFile: file })).toBe('s3cret');
    expect(await readAuthkey({ authkey: 'flag', authkeyFile: file })).toBe('flag');
    expect(await readAuthkey({})).toBeUndefined();
  });

  it('a missing file is a ConfigError naming it', async () => {
    await expect(readAuthkey({ authkeyFile: '/no/such/key' })).rejects.toThrow(
      new ConfigError('cannot read authkey file /no/such/key: ENOENT'),
    );
  });
});
