import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import {
  type CommonFlags,
  connect,
  createLogger,
  type IsolationFlags,
  isolationArgs,
  type Logger,
  loadHandler,
  loadTransport,
  logArgs,
  type MetricsFlags,
  readAuthkey,
  settingsFrom,
  tlsClientOptions,
} from '@taskwire/cli-kit';
import {
  announceDeparture,
  ConfigError,
  type Connection,
  deadLetterQueueOf,
  type HostedServer,
  Master,
  redactUrl,
  type TaskResult,
} from '@taskwire/core';
import type { ServedMetrics } from '@taskwire/metrics';
import { InProcessWorkers } from './in-process-workers.js';
import { type InputError, randomIntegers, readPayloads } from './input.js';
import { discardPreforkedWorkers, LocalWorkers } from './local-workers.js';
import { ResultWriter, toJson } from './output.js';
import { noProgress, type ProgressView, seedLines } from './progress.js';
import { catchStopSignals, exitCodeOf } from './stop-signals.js';

/** Options of {@link runMaster} (the `taskwire-master` flags). */
/** The isolation flags (`--isolate`, `--threads`, `--task-timeout`) apply to the local workers. */
export interface RunMasterOptions extends CommonFlags, IsolationFlags, MetricsFlags {
  /** Demo size when there is no input. @default 10 */
  tasks?: number;
  /** One JSON payload per line; `-` = stdin. */
  input?: string;
  /** One JSON result per line; `-` = stdout. */
  output?: string;
  /** Local worker processes to start. @default 0 */
  workers?: number;
  /** Handler for local workers. @default 'square' */
  handler?: string;
  /** Concurrency of each local worker. */
  concurrency?: number;
  /** Embedded TCP manager address. @default 127.0.0.1:5555 */
  host?: string;
  port?: number;
  /** Embedded TCP manager over TLS (`tcps://`): certificate and key files. */
  tlsCert?: string;
  tlsKey?: string;
  /** Serve the queues (TCP manager) in this process. @default true */
  serve?: boolean;
  /** Tasks outstanding at once. @default 1000 */
  window?: number;
  /** Attempts per task. @default 3 */
  maxAttempts?: number;
  /** Force the progress bar (true) or the seed's lines (false). */
  progress?: boolean;
}

/** Seed-style lines up to this many demo tasks when stderr is not a terminal. */
const SEED_LINES_MAX = 100;

async function tlsServerOptions(
  options: RunMasterOptions,
): Promise<{ cert: Buffer; key: Buffer } | undefined> {
  if (!options.tlsCert && !options.tlsKey) return undefined;
  if (!options.tlsCert || !options.tlsKey) throw new ConfigError('TLS needs both --tls-cert and --tls-key');
  const read = async (path: string) =>
    readFile(path).catch((error: NodeJS.ErrnoException) => {
      throw new ConfigError(`cannot read ${path}: ${error.code}`);
    });
  return { cert: await read(options.tlsCert), key: await read(options.tlsKey) };
}

function hostPort(url: string | undefined, options: RunMasterOptions): { host: string; port: number } {
  let fromUrl: URL | undefined;
  try {
    fromUrl = url ? new URL(url) : undefined;
  } catch {
    throw new ConfigError(`malformed URL "${redactUrl(url ?? '')}": expected tcp://host:port`);
  }
  const port = options.port ?? (fromUrl?.port ? Number(fromUrl.port) : 5555);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`invalid port ${port}`);
  return { host: options.host ?? fromUrl?.hostname ?? '127.0.0.1', port };
}

/**
 * Run a whole job: serve the queues (TCP manager) or connect to the backend, optionally start
 * local workers, submit the demo or the input, write results, print a summary. Resolves with the
 * exit code: 0 only when every task succeeded.
 */
export async function runMaster(options: RunMasterOptions): Promise<number> {
  const log = await createLogger('taskwire-master', options);
  let workers: LocalWorkers | undefined;
  // A second signal exits at once; the local workers must not outlive the master.
  const signals = catchStopSignals((signal) => {
    workers?.kill();
    process.exit(exitCodeOf(signal));
  });
  const settings = await settingsFrom(options);
  const transport = await loadTransport(settings, (specifier) => import(specifier));
  const workersWanted = options.workers ?? 0;
  // Whatever can be checked here is, before the first task is submitted.
  if (workersWanted > 0) await loadHandler(options.handler ?? 'square');
  const writer = options.output ? await ResultWriter.open(options.output) : undefined;
  let connection: Connection;
  let server: HostedServer | undefined;
  let workerUrl = settings.url;
  const workerEnv: NodeJS.ProcessEnv = {};

  // Host the queues only for a TCP-manager address: a transport that can serve (the TCP manager,
  // or a third-party wrapper around it) pointed at a broker URL just connects.
  const tcpAddress = settings.url === undefined || /^tcps?:\/\//i.test(settings.url);
  if (transport.serve && tcpAddress && options.serve !== false) {
    // The master is the TCP manager: it hosts the queues and reaches them without a socket.
    let authkey = await readAuthkey(settings);
    if (!authkey) {
      if (workersWanted === 0) {
        throw new ConfigError(
          'the TCP manager needs an authkey for remote workers: pass --authkey, --authkey-file or set TASKWIRE_AUTHKEY',
        );
      }
      authkey = randomBytes(24).toString('base64url'); // only our own child workers need it
    }
    const { host, port } = hostPort(settings.url, options);
    const tls = await tlsServerOptions(options);
    server = await transport.serve({ host, port, authkey, ...(tls ? { tls } : {}) });
    // Local workers trust the master's own certificate (self-signed or issued).
    if (tls && options.tlsCert) workerEnv.TASKWIRE_TLS_CA = options.tlsCert;
    connection = await server.connect();
    workerUrl = server.url;
    workerEnv.TASKWIRE_AUTHKEY = authkey;
    log.info(`serving ${server.url} (workers: ${workerCommand(server.url, settings, options)})`, {
      url: server.url,
    });
  } else {
    connection = await connect(transport, settings, await tlsClientOptions(options));
    if (options.tlsCa) workerEnv.TASKWIRE_TLS_CA = options.tlsCa;
    const authkey = await readAuthkey(settings);
    if (authkey) workerEnv.TASKWIRE_AUTHKEY = authkey;
  }

  // Local workers on a broker get a task queue of their own, deleted when the master leaves: a
  // stopped job leaves nothing behind, and no worker runs its tasks afterwards.
  const privateQueue =
    workersWanted > 0 && !server && transport.name !== 'memory'
      ? `${settings.queue}.local.${randomBytes(4).toString('hex')}`
      : undefined;
  const taskQueue = privateQueue ?? settings.queue;
  // The workers start before the master's task layer: they connect and declare their queue while it sets up.
  let workersGone: (() => void) | undefined;
  const allWorkersGone = new Promise<never>((_, reject) => {
    workersGone = () => reject(new Error('every local worker exited before the job finished'));
  });
  allWorkersGone.catch(() => undefined);
  let inProcessWorkers: InProcessWorkers | undefined;
  if (workersWanted > 0 && transport.name === 'memory') {
    inProcessWorkers = new InProcessWorkers({
      count: workersWanted,
      transport,
      url: settings.url,
      queue: taskQueue,
      handler: options.handler ?? 'square',
      concurrency: options.concurrency,
      isolation: options,
    });
    await inProcessWorkers.start();
  } else if (workersWanted > 0) {
    workers = new LocalWorkers({
      count: workersWanted,
      args: [
        '--transport',
        settings.transport,
        '--queue',
        taskQueue,
        '--handler',
        options.handler ?? 'square',
        ...(options.concurrency ? ['--concurrency', String(options.concurrency)] : []),
        ...isolationArgs(options),
        // The workers share this process's stderr: they log the same way.
        ...logArgs(log),
        // Each local worker serves its own metrics on a free port (it prints the URL).
        ...(options.metricsPort === undefined
          ? []
          : ['--metrics-port', '0', ...(options.metricsHost ? ['--metrics-host', options.metricsHost] : [])]),
      ],
      // The URL may carry a password: environment, not argv (which `ps` shows to every user).
      env: workerUrl ? { ...workerEnv, TASKWIRE_URL: workerUrl } : workerEnv,
      onUnexpectedExit: (index, code, signal) => {
        log.warn(`local worker ${index + 1} exited (${signal ?? `code ${code}`})`, {
          worker: index + 1,
          code,
          signal,
        });
        if (workers?.alive === 0) workersGone?.();
      },
    });
    workers.start();
  }
  // Started ahead by cli.ts but not needed (memory://, or fewer workers).
  discardPreforkedWorkers();
  // Loaded while the task layer starts, not before: the local workers wait for the manager to listen, and anything
  // loaded earlier delays them. prom-client itself is loaded at the first scrape.
  const metricsModule = options.metricsPort === undefined ? undefined : import('@taskwire/metrics');
  metricsModule?.catch(() => undefined);

  const master = await Master.start({
    connection,
    queue: taskQueue,
    maxAttempts: options.maxAttempts ?? 3,
  }).catch((error: unknown) => {
    workers?.kill(); // quietly: the error is the master's to report
    throw error;
  });
  const metrics =
    metricsModule &&
    (await serveMasterMetrics(await metricsModule, master, connection, taskQueue, options, log));
  const inputErrors: InputError[] = [];
  const input = options.input
    ? readPayloads(options.input, (error) => {
        inputErrors.push(error);
        log.warn(`input line ${error.line}: not valid JSON (${error.message}); skipped`, {
          line: error.line,
        });
      })
    : randomIntegers(options.tasks ?? 10);
  // The first signal stops reading input: the job then submits nothing more.
  const stopSubmitting = new AbortController();
  void signals.first.then(() => stopSubmitting.abort());
  const demo = !options.input;
  const total = demo ? (options.tasks ?? 10) : undefined;
  const useSeedLines =
    options.progress === false ||
    (options.progress === undefined &&
      demo &&
      options.output !== '-' &&
      total! <= SEED_LINES_MAX &&
      !process.stderr.isTTY);
  // cli-progress is loaded only when the bar is shown. Its frames would break JSON log lines: with
  // --log-format json it is drawn only when asked for.
  const view: ProgressView = useSeedLines
    ? seedLines()
    : log.format === 'json' && options.progress !== true
      ? noProgress
      : (await import('./progress-bar.js')).progressBar(total);
  // Only the seed's lines show submitted tasks; listening costs an event per task.
  if (useSeedLines) master.on('submitted', (task) => view.submitted(task.payload));

  let failure: Error | undefined;
  const connectionFailed = terminalFailure(connection, (error) => {
    failure = error;
  });
  const started = Date.now();
  let finished = 0;
  let done = 0;
  let failed = 0;
  try {
    const run = (async () => {
      for await (const result of master.map(input, {
        window: options.window ?? 1000,
        signal: stopSubmitting.signal,
      })) {
        if (result.ok) done++;
        else failed++;
        view.finished(done, failed);
        if (writer) await writer.write(result);
        if (useSeedLines) console.log(describe(result, options.handler ?? 'square'));
      }
    })();
    await Promise.race([run, allWorkersGone, signals.first, connectionFailed]);
  } finally {
    // The job's time ends with its last result; stopping the local workers and closing is not part of it.
    finished = Date.now();
    view.stop();
    if (signals.received) {
      log.warn(`${signals.received}: stopping (again to exit at once)`, { signal: signals.received });
      // Workers drop the tasks still queued for this master instead of running them.
      await announceDeparture(connection, taskQueue, master.resultQueueName).catch(() => undefined);
    }
    await workers?.stop();
    await inProcessWorkers?.stop();
    await writer?.close();
    // After the connection failed for good there is nothing left to release on it (the transport closed it), and
    // trying would only hide why the job ended.
    await metrics?.close();
    if (!failure) {
      await master.close();
      if (privateQueue) await deleteQueues(connection, [privateQueue, deadLetterQueueOf(privateQueue)]);
      await connection.close();
    }
    await server?.close();
    // After a first signal the process is on its way out: a second one, even now, must still exit at once
    // (with 130/143), not kill it by the default action.
    if (!signals.received) signals.dispose();
  }

  const elapsed = (finished - started) / 1000;
  const failedTotal = failed + inputErrors.length;
  const rate = Math.round((done + failed) / Math.max(elapsed, 0.001));
  log.info(
    `done ${done}, failed ${failedTotal}${inputErrors.length ? ` (${inputErrors.length} bad input lines)` : ''}, elapsed ${elapsed.toFixed(2)}s, ${rate} tasks/s`,
    {
      done,
      failed: failedTotal,
      badInputLines: inputErrors.length,
      elapsedSeconds: elapsed,
      tasksPerSecond: rate,
    },
  );
  if (signals.received) return exitCodeOf(signals.received);
  return failedTotal === 0 ? 0 : 1;
}

/**
 * Rejects with the connection's terminal failure (a backend down past `reconnectDeadlineMs`, a login refused on
 * reconnect, …): a master that is only waiting for results has no call of its own that would fail. The job then
 * ends like an interrupted one (local workers stopped, output flushed) and the error is the CLI's one line.
 */
function terminalFailure(connection: Connection, onFailure: (error: Error) => void): Promise<never> {
  const failed = new Promise<never>((_, reject) =>
    connection.on('error', (error) => {
      onFailure(error);
      reject(error);
    }),
  );
  failed.catch(() => undefined);
  return failed;
}

/**
 * With `--metrics-port`: the master's task counts, its task queue's depth, the live workers and the reconnects on
 * /metrics.
 */
async function serveMasterMetrics(
  { serveMetrics }: typeof import('@taskwire/metrics'),
  master: Master,
  connection: Connection,
  queue: string,
  options: MetricsFlags,
  log: Logger,
): Promise<ServedMetrics> {
  const served = await serveMetrics({
    connection,
    queues: [queue],
    port: options.metricsPort!,
    host: options.metricsHost,
  });
  served.tasks.observeMaster(master);
  log.info(`metrics on ${served.url}`, { url: served.url });
  return served;
}

/** The command a remote worker runs to join (secrets never printed: the key by its file or variable). */
function workerCommand(url: string, settings: { authkeyFile?: string }, options: RunMasterOptions): string {
  const parts = ['taskwire-worker', '--url', url];
  if (options.tlsCert) parts.push('--tls-ca', options.tlsCert);
  if (settings.authkeyFile) parts.push('--authkey-file', settings.authkeyFile);
  else parts.push('--authkey-file <file with the authkey>');
  if (options.queue) parts.push('--queue', options.queue);
  return parts.join(' ');
}

/** Delete queues that only this job used. */
async function deleteQueues(connection: Connection, names: string[]): Promise<void> {
  for (const name of names) {
    const queue = await connection.queue(name);
    await queue.delete();
  }
}

function describe(result: TaskResult, handler: string): string {
  if (!result.ok) return `failed ${toJson(result.payload)}: ${result.error?.name}: ${result.error?.message}`;
  if (handler === 'square') return `result ${result.payload} * ${result.payload} = ${toJson(result.value)}`;
  return `result ${toJson(result.payload)} -> ${toJson(result.value)}`;
}
