import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFaultProxy } from '../src/fault-proxy.js';

// An echo server behind the proxy: a link works when what is written comes back.
let echo: Server;
let port: number;
beforeAll(async () => {
  echo = createServer((socket) => {
    socket.on('error', () => undefined); // the proxy resets its side of a cut link
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  port = (echo.address() as { port: number }).port;
});
afterAll(() => new Promise((resolve) => echo.close(resolve)));

/** Resolves 'echoed' when `text` comes back through `proxyPort`, 'reset' when the link is refused or dropped. */
function roundTrip(proxyPort: number, text = 'ping'): Promise<'echoed' | 'reset'> {
  return new Promise((resolve) => {
    const socket: Socket = connect({ host: '127.0.0.1', port: proxyPort });
    const timer = setTimeout(() => finish('reset'), 5000);
    const finish = (outcome: 'echoed' | 'reset') => {
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    socket.once('connect', () => socket.write(text));
    socket.on('data', (data) => data.toString() === text && finish('echoed'));
    socket.on('error', () => finish('reset'));
    socket.once('close', () => finish('reset'));
  });
}

describe('FaultProxy down() and up()', () => {
  it('cuts the open links, refuses new ones while down, and lets them through again when up', async () => {
    const proxy = await startFaultProxy({ port });
    try {
      const open = connect({ host: '127.0.0.1', port: proxy.port });
      await new Promise((resolve) => open.once('connect', resolve));
      const openClosed = new Promise((resolve) => open.once('close', resolve));
      open.on('error', () => undefined);
      expect(await roundTrip(proxy.port)).toBe('echoed');

      proxy.down();
      await openClosed;
      expect(await roundTrip(proxy.port)).toBe('reset');
      expect(await roundTrip(proxy.port)).toBe('reset');
      expect(proxy.links).toBe(0);

      proxy.up();
      expect(await roundTrip(proxy.port)).toBe('echoed');
    } finally {
      await proxy.close();
    }
  });
});
