import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { gzipSync } from 'node:zlib';

/** A static file of the page, held in memory with its gzip form. */
export interface Asset {
  type: string;
  body: Buffer;
  gzip: Buffer;
}

const PUBLIC = new URL('../../public/', import.meta.url);
const requireFromHere = createRequire(import.meta.url);

/** URL path → file: the page's own files, and uPlot's from its package (no CDN). */
const FILES: Record<string, { file: () => string | URL; type: string }> = {
  '/': { file: () => new URL('index.html', PUBLIC), type: 'text/html; charset=utf-8' },
  '/app.js': { file: () => new URL('app.js', PUBLIC), type: 'text/javascript; charset=utf-8' },
  '/app.css': { file: () => new URL('app.css', PUBLIC), type: 'text/css; charset=utf-8' },
  '/vendor/uPlot.iife.min.js': {
    file: () => requireFromHere.resolve('uplot/dist/uPlot.iife.min.js'),
    type: 'text/javascript; charset=utf-8',
  },
  '/vendor/uPlot.min.css': {
    file: () => requireFromHere.resolve('uplot/dist/uPlot.min.css'),
    type: 'text/css; charset=utf-8',
  },
};

/** Read every asset once, at start-up, and compress it once. */
export async function loadAssets(): Promise<Map<string, Asset>> {
  const assets = new Map<string, Asset>();
  for (const [path, { file, type }] of Object.entries(FILES)) {
    const body = await readFile(file());
    assets.set(path, { type, body, gzip: gzipSync(body, { level: 9 }) });
  }
  return assets;
}
