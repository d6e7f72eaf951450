import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';

/** A nats-server with JetStream of the caller's own on a free loopback port (never the shared one). */
export interface PrivateNats {
  readonly url: string;
  /** The loopback port it listens on. */
  readonly port: number;
  /** SIGKILL it and start it again on the same port and store directory. */
  restart(): Promise<void>;
  /** SIGKILL it. */
  kill(): Promise<void>;
  /** Start it again after {@link kill}; resolves once it accepts connections. */
  start(): Promise<void>;
  /** SIGKILL it and remove its store directory. */
  stop(): Promise<void>;
}

/** The server binary: `NATS_SERVER` or `nats-server` on the PATH. */
const NATS_SERVER = process.env.NATS_SERVER ?? 'nats-server';

/**
 * Start a private nats-server with JetStream and a store directory of its own (`-sd`), so what it acknowledged
 * survives a SIGKILL and restart the way the shared server's does.
 */
export async function startPrivateNats(): Promise<PrivateNats> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'taskwire-nats-private-'));
  let server: ChildProcess | undefined;
  const start = async () => {
    server = spawn(NATS_SERVER, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir], {
      stdio: 'ignore',
    });
    for (let attempt = 0; ; attempt++) {
      if (await answers(port)) return;
      if (attempt >= 200) throw new Error(`private nats-server on port ${port} did not start`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const kill = async () => {
    const running = server;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGKILL');
    await exited;
  };
  await start();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    restart: async () => {
      await kill();
      await start();
    },
    kill,
    start,
    stop: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** True once the server sends its INFO line (it listens only after JetStream recovered its store). */
function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('data', (data) => done(data.toString().startsWith('INFO')));
    socket.once('error', () => done(false));
    socket.setTimeout(1000, () => done(false));
  });
}
