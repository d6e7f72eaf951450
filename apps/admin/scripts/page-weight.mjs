#!/usr/bin/env node
// The dashboard's page weight: bytes transferred on a first load (headers + bodies as sent, gzip included) of
// every request the page makes until its first poll is shown. Needs a build (`pnpm build`) and /usr/bin/chromium.
//   node apps/admin/scripts/page-weight.mjs [--url <dashboard url>]
// Without --url it serves a dashboard over an in-process memory connection.
import { createMemoryTransport } from '@taskwire/core';
import { chromium } from 'playwright-core';
import { startDashboard } from '../dist/index.js';

const urlFlag = process.argv.indexOf('--url');
let url = urlFlag > 0 ? process.argv[urlFlag + 1] : undefined;
let close = async () => {};
if (!url) {
  const connection = await createMemoryTransport().connect({ url: 'memory://page-weight' });
  const dashboard = await startDashboard({ connection, port: 0 });
  url = dashboard.url;
  close = async () => {
    await dashboard.close();
    await connection.close();
  };
}
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--no-first-run',
  ],
});
const page = await browser.newPage();
const requests = [];
page.on('requestfinished', (request) => requests.push(request));
await page.goto(url, { waitUntil: 'networkidle' });
let total = 0;
for (const request of requests) {
  const sizes = await request.sizes();
  const bytes = sizes.responseHeadersSize + sizes.responseBodySize;
  total += bytes;
  console.log(
    `${String(bytes).padStart(7)}  ${new URL(request.url()).pathname}${new URL(request.url()).search}`,
  );
}
console.log(
  `${String(total).padStart(7)}  total bytes (${(total / 1024).toFixed(1)} KB) in ${requests.length} requests`,
);
await browser.close();
await close();
