import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { decodeItem, deliveryField, encodeItem } from '../src/item.js';
import { QUEUE_KEY_NAMES, queueKeys } from '../src/keys.js';
import { scripts } from '../src/scripts.js';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const luaDir = new URL('../lua/', import.meta.url);

/** Every file under lua/, as a path in the package (`lua/…`). */
function luaFiles(): string[] {
  return readdirSync(luaDir, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.lua'))
    .map((file) => `lua/${file.split('\\').join('/')}`)
    .sort();
}

/** What a script's header comment says about its KEYS and ARGV. */
interface Header {
  keys: { index: number; name: string }[];
  argv: { index: number; name: string }[];
  /** `ARGV[first+strideI] name`: ARGV repeated per item. */
  each: { first: number; stride: number; name: string }[];
}

function headerOf(source: string): Header {
  const comment = /^--\[\[([\s\S]*?)\]\]/.exec(source)?.[1] ?? '';
  const lines = (pattern: RegExp) => [...comment.matchAll(pattern)];
  return {
    keys: lines(/^\s*KEYS\[(\d+)\]\s+(\w+)/gm).map((m) => ({ index: Number(m[1]), name: m[2]! })),
    argv: lines(/^\s*ARGV\[(\d+)\]\s+(\w+)/gm).map((m) => ({ index: Number(m[1]), name: m[2]! })),
    each: lines(/^\s*ARGV\[(\d+)\+(\d+)i\]\s+(\w+)/gm).map((m) => ({
      first: Number(m[1]),
      stride: Number(m[2]),
      name: m[3]!,
    })),
  };
}

describe('Redis scripts', () => {
  it('every .lua file is in the tarball pnpm pack builds, and every script file is one of them', () => {
    const packed = JSON.parse(
      execFileSync('pnpm', ['pack', '--dry-run', '--json'], {
        cwd: packageDir,
        encoding: 'utf8',
        timeout: 60_000,
      }),
    ) as { files: { path: string }[] };
    const shipped = new Set(packed.files.map((file) => file.path));
    const lua = luaFiles();
    expect(lua.length).toBeGreaterThan(Object.keys(scripts).length);
    expect(lua.filter((file) => !shipped.has(file))).toEqual([]);
    const scriptFiles = Object.values(scripts).map((script) => `lua/${script.signature.file}`);
    // No script file left unused: the top-level files are exactly the scripts (the rest are includes).
    expect(lua.filter((file) => !file.startsWith('lua/includes/'))).toEqual([...scriptFiles].sort());
  });

  it('the built dist loads the same scripts from the shipped lua/ directory', async () => {
    const dist = new URL('../dist/scripts.js', import.meta.url).href;
    const built = (await import(dist)) as { scripts: Record<string, { source: string }> };
    for (const [name, script] of Object.entries(scripts)) {
      expect(built.scripts[name]?.source, name).toBe(script.source);
    }
  });

  it.each(Object.entries(scripts))(
    '%s: includes expanded, header names KEYS and ARGV as called',
    (_, script) => {
      const { keys, argv, each = [] } = script.signature;
      expect(script.source).not.toContain('@include');
      expect(script.source).toContain('Returns');
      const header = headerOf(script.source);
      expect(header.keys).toEqual(keys.map((name, i) => ({ index: i + 1, name })));
      expect(header.argv).toEqual(argv.map((name, i) => ({ index: i + 1, name })));
      expect(header.each).toEqual(
        each.map((name, i) => ({ first: argv.length + 1 + i, stride: each.length, name })),
      );
    },
  );

  it('QUEUE_KEY_NAMES names every queue key once, in the order lua/includes/queue.lua binds KEYS', () => {
    const { all, ...named } = queueKeys('p', 'q');
    expect([...QUEUE_KEY_NAMES].sort()).toEqual(Object.keys(named).sort());
    expect(all).toEqual(QUEUE_KEY_NAMES.map((name) => named[name]));
    const prelude = readFileSync(new URL('includes/queue.lua', luaDir), 'utf8');
    const binding = /^local ([\w, ]+) =\s*\n?\s*KEYS\[1\]/m.exec(prelude)?.[1];
    expect(binding?.split(/,\s*/)).toEqual([...QUEUE_KEY_NAMES]);
  });
});

describe('item layout', () => {
  it('a new item is id|0||payload and decodes back, even with | in the payload', () => {
    const payload = Buffer.from('a|b|c');
    const item = encodeItem('id-1', payload);
    expect(item.toString()).toBe('id-1|0||a|b|c');
    expect(decodeItem(item)).toEqual({ id: 'id-1', priority: 0, payload });
  });

  it('a scored item decodes to the priority the put script encoded', () => {
    // Priority 7, sequence 42: (255 - 7) * 2^44 + 42.
    const score = ((255n - 7n) << 44n) + 42n;
    const item = Buffer.from(`id-2|3|${score}|x`);
    expect(decodeItem(item)).toEqual({ id: 'id-2', priority: 7, payload: Buffer.from('x') });
    expect(deliveryField('id-2', 4)).toBe('id-2|4');
  });
});
