// `pnpm check:packages`: pack every published package as `pnpm publish` would and check the tarball:
// the publish fields, the LICENSE, README links, source maps, stale build output, then publint and
// `attw --profile esm-only`. Needs `pnpm build` first. Exits 1 listing every problem.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import {
  packAll,
  publishedPackages,
  ROOT,
  readJson,
  rootManifest,
  unpack,
  workspacePackages,
} from './published-packages.mjs';

const ATTW = join(ROOT, 'node_modules', '.bin', 'attw');
const REPOSITORY_URL = rootManifest.repository.url; // git+https://github.com/<owner>/<repo>.git
const WEB_URL = REPOSITORY_URL.replace(/^git\+/, '').replace(/\.git$/, '');
const LICENSE_TEXT = readFileSync(join(ROOT, 'LICENSE'), 'utf8');
const RUNTIME_DEPENDENCY_FIELDS = ['dependencies', 'peerDependencies', 'optionalDependencies'];

/** Every file under `dir`, as paths relative to it. */
function filesUnder(dir) {
  return readdirSync(dir, { recursive: true }).filter((path) => statSync(join(dir, path)).isFile());
}

/** The publish fields, derived from the root package.json so they are written down once. */
function checkManifest(pkg, manifest, privateNames) {
  const problems = [];
  const expect = (field, actual, wanted) => {
    if (JSON.stringify(actual) !== JSON.stringify(wanted)) {
      problems.push(`package.json ${field} is ${JSON.stringify(actual)}, expected ${JSON.stringify(wanted)}`);
    }
  };
  expect('type', manifest.type, 'module');
  expect('license', manifest.license, 'MIT');
  expect('repository', manifest.repository, { type: 'git', url: REPOSITORY_URL, directory: pkg.rel });
  expect('homepage', manifest.homepage, `${WEB_URL}/tree/main/${pkg.rel}#readme`);
  expect('bugs', manifest.bugs, { url: `${WEB_URL}/issues` });
  expect('engines.node', manifest.engines?.node, rootManifest.engines.node);
  for (const field of RUNTIME_DEPENDENCY_FIELDS) {
    for (const [name, range] of Object.entries(manifest[field] ?? {})) {
      if (privateNames.has(name)) problems.push(`${field} names the private workspace package ${name}`);
      if (String(range).startsWith('workspace:')) problems.push(`${field}.${name} is still ${range}`);
    }
  }
  return problems;
}

/**
 * Markdown tables whose rows have different numbers of cells: GitHub and npm split a row at every
 * `|` not escaped as a backslash-pipe, even inside a code span, and such a row breaks the table.
 */
function brokenTables(text, file) {
  const problems = [];
  let header;
  for (const [index, line] of text.split('\n').entries()) {
    if (!line.startsWith('|')) {
      header = undefined;
      continue;
    }
    const cells = line.replaceAll('\\|', '').split('|').length;
    header ??= cells;
    if (cells !== header)
      problems.push(`${file}:${index + 1}: a table row with ${cells - 2} cells, not ${header - 2}`);
  }
  return problems;
}

/** LICENSE is the root's; README says ESM-only and links only absolutely (relative links break on npm). */
function checkDocuments(unpacked) {
  const problems = [];
  const license = join(unpacked, 'LICENSE');
  if (!existsSync(license)) problems.push('no LICENSE in the tarball');
  else if (readFileSync(license, 'utf8') !== LICENSE_TEXT)
    problems.push('LICENSE differs from the root LICENSE');
  const readme = join(unpacked, 'README.md');
  if (!existsSync(readme)) return [...problems, 'no README.md in the tarball'];
  const text = readFileSync(readme, 'utf8');
  if (!text.includes('ESM-only')) problems.push('README.md does not say the package is ESM-only');
  const targets = [
    ...text.matchAll(/\]\(\s*<?([^)\s>]+)/g), // [text](target) and ![alt](target)
    ...text.matchAll(/^\s*\[[^\]]+\]:\s*<?(\S+?)>?\s*$/gm), // [label]: target
    ...text.matchAll(/\b(?:src|href)="([^"]+)"/g), // inline HTML
  ].map((match) => match[1]);
  for (const target of targets) {
    if (!/^(https:|http:|mailto:|#)/.test(target)) problems.push(`README.md links relatively to ${target}`);
  }
  return [...problems, ...brokenTables(text, 'README.md')];
}

/**
 * A shipped .js.map carries its sources (`sourcesContent`), a declaration map would point into
 * sources that are not shipped, and every map's source still exists in the repository: otherwise
 * `dist/` holds output of a deleted module (tsc never cleans `dist/`).
 */
function checkMaps(pkg, unpacked, files) {
  const problems = [];
  for (const file of files.filter((path) => path.endsWith('.map'))) {
    if (file.endsWith('.d.ts.map')) {
      problems.push(`${file}: declaration maps point to sources that are not shipped`);
      continue;
    }
    const map = readJson(join(unpacked, file));
    const contents = map.sourcesContent ?? [];
    if (map.sources.length !== contents.length || contents.some((content) => typeof content !== 'string')) {
      problems.push(`${file}: no sourcesContent (set inlineSources)`);
    }
    for (const source of map.sources) {
      const onDisk = join(pkg.dir, dirname(file), map.sourceRoot ?? '', source);
      if (!existsSync(onDisk)) {
        problems.push(
          `${file}: its source ${relative(ROOT, onDisk)} is gone (stale build output: rm -rf dist)`,
        );
      }
    }
  }
  return problems;
}

async function runPublint(tarball) {
  const bytes = readFileSync(tarball);
  const { messages, pkg } = await publint({
    pack: { tarball: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) },
    level: 'suggestion',
    strict: true,
  });
  return messages.map(
    (message) => `publint ${message.type}: ${formatMessage(message, pkg, { color: false })}`,
  );
}

function runAttw(tarball) {
  try {
    execFileSync(ATTW, [tarball, '--profile', 'esm-only', '--format', 'ascii', '--no-emoji', '--no-color'], {
      encoding: 'utf8',
      timeout: 120_000,
      stdio: 'pipe',
    });
    return [];
  } catch (error) {
    return [`attw --profile esm-only:\n${error.stdout || error.message}`];
  }
}

const work = mkdtempSync(join(tmpdir(), 'taskwire-check-packages-'));
let failed = 0;
try {
  const packages = publishedPackages();
  const privateNames = new Set(
    workspacePackages()
      .filter((pkg) => pkg.manifest.private === true)
      .map((pkg) => pkg.name),
  );
  const tarballs = packAll(packages, join(work, 'tarballs'));
  for (const [i, pkg] of packages.entries()) {
    const tarball = tarballs[i];
    const unpacked = unpack(tarball, join(work, 'unpacked', pkg.rel));
    const files = filesUnder(unpacked);
    const problems = [
      ...checkManifest(pkg, readJson(join(unpacked, 'package.json')), privateNames),
      ...checkDocuments(unpacked),
      ...checkMaps(pkg, unpacked, files),
      ...(await runPublint(tarball)),
      ...runAttw(tarball),
    ];
    const size = `${(statSync(tarball).size / 1024).toFixed(1)} KiB`;
    console.log(
      `${problems.length === 0 ? 'ok  ' : 'FAIL'} ${pkg.name} (${pkg.rel}): ${files.length} files, ${size}`,
    );
    for (const problem of problems) console.log(`     - ${problem.replaceAll('\n', '\n       ')}`);
    if (problems.length > 0) failed++;
  }
  const rootTables = brokenTables(readFileSync(join(ROOT, 'README.md'), 'utf8'), 'README.md');
  console.log(`${rootTables.length === 0 ? 'ok  ' : 'FAIL'} the repository's README.md tables`);
  for (const problem of rootTables) console.log(`     - ${problem}`);
  if (rootTables.length > 0) failed++;
  console.log(
    `\n${failed === 0 ? 'no problems' : `problems in ${failed}`}: ${packages.length} published packages (publint strict, attw --profile esm-only, LICENSE, links, tables, maps, fields) and the root README`,
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
process.exit(failed === 0 ? 0 : 1);
