// `pnpm smoke:packages`: what a user gets from npm. Packs every published package, installs the
// tarballs into a fresh project in a temporary directory outside the workspace (third-party
// dependencies from the registry) and there runs taskwire-master with two workers, workers that
// load their transport by package name (a taskwire one and a third-party one), the master and workers on Redis and RabbitMQ, a type check
// of a file importing every public entry point, and require() + import() of every package. Needs
// `pnpm build`, Redis and RabbitMQ (TASKWIRE_REDIS_URL, TASKWIRE_AMQP_URL); every step is bounded
// in time.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { packAll, publishedPackages, ROOT, rootManifest } from './published-packages.mjs';

const INSTALL_TIMEOUT_MS = 180_000;
const STEP_TIMEOUT_MS = 60_000;

/**
 * The environment of a user's shell: no TASKWIRE_* settings of the caller, no npm_* variables that
 * pnpm sets for scripts, and no workspace `node_modules/.bin` on the PATH.
 */
function cleanEnv(extra = {}) {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(TASKWIRE_|npm_|PNPM_)/i.test(key)) env[key] = value;
  }
  env.PATH = (process.env.PATH ?? '')
    .split(delimiter)
    .filter((entry) => !entry.startsWith(ROOT))
    .join(delimiter);
  return { ...env, ...extra };
}

/**
 * Start a command; `exited` resolves with `{ code, signal, stdout, stderr }`. The process is killed
 * after `timeoutMs`, and `exited` then rejects.
 */
function start(command, args, { cwd, env = cleanEnv(), timeoutMs = STEP_TIMEOUT_MS } = {}) {
  const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = { stdout: '', stderr: '' };
  child.stdout.on('data', (chunk) => {
    output.stdout += chunk;
  });
  child.stderr.on('data', (chunk) => {
    output.stderr += chunk;
  });
  const label = [command.replace(`${cwd}/`, ''), ...args].join(' ');
  const exited = new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`timed out after ${timeoutMs} ms: ${label}\n${output.stderr.slice(-2000)}`));
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, ...output });
    });
  });
  return { child, output, exited, label };
}

/** Run a command to its end; throw unless it exits 0 (and its output matches `expect`). */
async function run(command, args, options = {}) {
  const started = start(command, args, options);
  const result = await started.exited;
  const combined = `${result.stdout}\n${result.stderr}`;
  if (result.code !== 0 || (options.expect && !options.expect.test(combined))) {
    throw new Error(
      `${started.label}: exit ${result.code ?? result.signal}` +
        (options.expect ? `, expected ${options.expect}` : '') +
        `\n${combined.slice(-3000)}`,
    );
  }
  return result;
}

/** Resolve with the match once `stream` output of `started` matches `pattern`, within `timeoutMs`. */
function waitForOutput(started, stream, pattern, timeoutMs = STEP_TIMEOUT_MS) {
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (error, match) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      started.child[stream].off('data', onData);
      started.child.off('close', onClose);
      if (error) reject(error);
      else resolve(match);
    };
    const onData = () => {
      const match = pattern.exec(started.output[stream]);
      if (match) finish(undefined, match);
    };
    const onClose = () =>
      finish(new Error(`${started.label} ended without ${pattern}\n${started.output.stderr}`));
    const timer = setTimeout(
      () => finish(new Error(`no ${pattern} from ${started.label} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    started.child[stream].on('data', onData);
    started.child.on('close', onClose);
    onData();
  });
}

/** A third-party transport package, as someone would publish one: here it re-exports the TCP factory. */
const THIRD_PARTY_TRANSPORT = 'taskwire-transport-smoke';

/**
 * The fresh project: every tarball as a dependency, pinned with overrides so none comes from npm,
 * and {@link THIRD_PARTY_TRANSPORT}, a package that none of the taskwire packages depends on.
 */
function writeProject(project, tarballs) {
  const dependencies = {};
  const overrides = {};
  for (const { pkg, tarball } of tarballs) {
    dependencies[pkg.name] = `file:${tarball}`;
    overrides[pkg.name] = `$${pkg.name}`;
  }
  for (const tool of ['typescript', '@types/node']) dependencies[tool] = rootManifest.devDependencies[tool];
  dependencies[THIRD_PARTY_TRANSPORT] = 'file:./third-party-transport';
  const manifest = { name: 'taskwire-pack-smoke', private: true, type: 'module', dependencies, overrides };
  mkdirSync(join(project, 'third-party-transport'), { recursive: true });
  writeFileSync(join(project, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  const transport = {
    name: THIRD_PARTY_TRANSPORT,
    version: '1.0.0',
    type: 'module',
    exports: './index.js',
    peerDependencies: { '@taskwire/transport-tcp': '*' },
  };
  writeFileSync(join(project, 'third-party-transport', 'package.json'), JSON.stringify(transport));
  writeFileSync(
    join(project, 'third-party-transport', 'index.js'),
    "export { default } from '@taskwire/transport-tcp';\n",
  );
}

/**
 * Every public entry point (each `exports` subpath but `./package.json`), imported under
 * NodeNext resolution, plus a few lines that use the core API the READMEs show.
 */
function writeTypeCheck(project, packages) {
  const specifiers = packages.flatMap((pkg) =>
    Object.keys(pkg.manifest.exports ?? { '.': null })
      .filter((subpath) => subpath !== './package.json' && !subpath.includes('*'))
      .map((subpath) => pkg.name + subpath.slice(1)),
  );
  const lines = [
    "import { createMemoryTransport, Master, type Transport, Worker } from '@taskwire/core';",
    "import { createTcpTransport } from '@taskwire/transport-tcp';",
    ...specifiers.map((specifier, i) => `import type * as entry${i} from '${specifier}';`),
    '',
    `export type Entries = [${specifiers.map((_, i) => `typeof entry${i}`).join(', ')}];`,
    'export const tcp: Transport = createTcpTransport();',
    'const connection = await createMemoryTransport().connect();',
    'const worker = await Worker.start({ connection, handler: (n: number) => n * n });',
    'const master = await Master.start({ connection });',
    'const result = await master.submit<number, number>(21);',
    'export const squared: number | undefined = result.ok ? result.value : undefined;',
    'await master.close();',
    'await worker.stop();',
    'await connection.close();',
    '',
  ];
  writeFileSync(join(project, 'smoke.ts'), lines.join('\n'));
  const compilerOptions = {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    strict: true,
    noEmit: true,
    skipLibCheck: false,
    types: ['node'],
  };
  writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['smoke.ts'] }));
  return specifiers;
}

async function step(title, action) {
  const started = Date.now();
  process.stdout.write(`== ${title} … `);
  const detail = await action();
  console.log(`ok (${((Date.now() - started) / 1000).toFixed(1)} s)${detail ? `: ${detail}` : ''}`);
}

const work = mkdtempSync(join(tmpdir(), 'taskwire-pack-smoke-'));
const project = join(work, 'project');
const bin = (name) => join(project, 'node_modules', '.bin', name);
let exitCode = 0;
try {
  const packages = publishedPackages();
  const tarballs = [];
  await step(`pnpm pack ${packages.length} published packages`, () => {
    const paths = packAll(packages, join(work, 'tarballs'));
    for (const [i, pkg] of packages.entries()) tarballs.push({ pkg, tarball: paths[i] });
    return packages.map((pkg) => pkg.name).join(', ');
  });

  await step(`npm install the tarballs into ${project}`, async () => {
    writeProject(project, tarballs);
    await run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], {
      cwd: project,
      timeoutMs: INSTALL_TIMEOUT_MS,
    });
  });

  await step('taskwire-master --workers 2 --tasks 1000', async () => {
    const { stderr } = await run(
      bin('taskwire-master'),
      ['--workers', '2', '--tasks', '1000', '--port', '0', '--no-progress'],
      {
        cwd: project,
        expect: /done 1000, failed 0/,
      },
    );
    return stderr.trim().split('\n').at(-1);
  });

  // The admin CLI as installed: its dashboard serves the page and uPlot from the installed packages.
  await step('taskwire dashboard (page and uPlot served from the installed package)', async () => {
    const dashboard = start(bin('taskwire'), ['dashboard', '--transport', 'memory', '--port', '0'], {
      cwd: project,
      env: cleanEnv({}),
    });
    try {
      const [, url] = await waitForOutput(dashboard, 'stdout', /taskwire dashboard: (http:\/\/\S+)/);
      for (const path of ['', 'vendor/uPlot.iife.min.js', 'app.js']) {
        const response = await fetch(new URL(path, url));
        if (!response.ok) throw new Error(`GET ${path || '/'}: HTTP ${response.status}`);
      }
      dashboard.child.kill('SIGINT');
      const { code } = await dashboard.exited;
      if (code !== 0) throw new Error(`taskwire dashboard exited ${code} on SIGINT`);
      return url;
    } finally {
      dashboard.child.kill('SIGKILL');
    }
  });

  // A transport loaded by package name: a taskwire one, and a third-party one the CLIs do not depend on.
  for (const transport of ['@taskwire/transport-tcp', THIRD_PARTY_TRANSPORT]) {
    await step(`taskwire-worker --transport ${transport} (loaded by package name)`, async () => {
      const env = cleanEnv({ TASKWIRE_AUTHKEY: randomBytes(24).toString('base64url') });
      const master = start(bin('taskwire-master'), ['--tasks', '200', '--port', '0', '--no-progress'], {
        cwd: project,
        env,
      });
      try {
        const [, url] = await waitForOutput(master, 'stderr', /serving (tcp:\/\/\S+)/);
        const worker = run(
          bin('taskwire-worker'),
          ['--transport', transport, '--url', url, '--idle-exit', '2'],
          { cwd: project, env },
        );
        // A worker that fails (its transport not found, say) fails the step at once.
        const done = await Promise.race([master.exited, worker.then(() => master.exited)]);
        if (done.code !== 0 || !/done 200, failed 0/.test(done.stderr)) {
          throw new Error(`taskwire-master: exit ${done.code ?? done.signal}\n${done.stderr.slice(-3000)}`);
        }
        await worker; // exits 0 on its own (--idle-exit) once the master is gone
        return done.stderr.trim().split('\n').at(-1);
      } finally {
        master.child.kill('SIGKILL');
      }
    });
  }

  // The broker transports as installed from their tarballs (CI starts both brokers, as for the tests).
  const brokers = {
    Redis: process.env.TASKWIRE_REDIS_URL ?? 'redis://127.0.0.1:6379',
    RabbitMQ: process.env.TASKWIRE_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
  };
  for (const [broker, url] of Object.entries(brokers)) {
    await step(`taskwire-master --workers 2 --tasks 200 on ${broker}`, async () => {
      const queue = `taskwire-pack-smoke-${randomBytes(4).toString('hex')}`;
      const args = [
        '--workers',
        '2',
        '--tasks',
        '200',
        '--transport',
        url,
        '--queue',
        queue,
        '--no-progress',
      ];
      const { stderr } = await run(bin('taskwire-master'), args, {
        cwd: project,
        expect: /done 200, failed 0/,
      });
      return stderr.trim().split('\n').at(-1);
    });
  }

  await step('tsc --noEmit (NodeNext) of a file importing every public entry point', async () => {
    const specifiers = writeTypeCheck(project, packages);
    await run(bin('tsc'), ['-p', 'tsconfig.json'], { cwd: project });
    return specifiers.join(', ');
  });

  await step('import() and require() of every package', async () => {
    for (const { name } of packages) {
      const quoted = JSON.stringify(name);
      await run(process.execPath, ['--input-type=module', '-e', `await import(${quoted});`], {
        cwd: project,
      });
      await run(process.execPath, ['--input-type=commonjs', '-e', `require(${quoted});`], { cwd: project });
    }
    return `Node ${process.versions.node}`;
  });
} catch (error) {
  console.log('FAILED');
  console.error(error instanceof Error ? error.message : error);
  exitCode = 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
process.exit(exitCode);
