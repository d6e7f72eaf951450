// The workspace's published packages and how to pack them: shared by check-packages.mjs and
// pack-smoke.mjs. Packages are discovered through pnpm (the globs of pnpm-workspace.yaml), so a
// new package is covered without editing these scripts; `"private": true` ones are skipped.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (no trailing slash). */
export const ROOT = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');

/** The root package.json: its `repository` and `engines` are the ones every package must carry. */
export const rootManifest = readJson(join(ROOT, 'package.json'));

/** Parse a JSON file. */
export function readJson(path) {
  return JSON.parse(readFileSync(path, 'utf8'));
}

/**
 * Every workspace package, root excluded: `{ name, dir, rel, manifest }` (`rel` is the directory
 * relative to the root, e.g. `packages/core`).
 */
export function workspacePackages() {
  const listing = execFileSync('pnpm', ['ls', '--recursive', '--depth', '-1', '--json'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return JSON.parse(listing)
    .filter((entry) => entry.path !== ROOT)
    .map((entry) => {
      const manifest = readJson(join(entry.path, 'package.json'));
      return { name: manifest.name, dir: entry.path, rel: relative(ROOT, entry.path), manifest };
    })
    .sort((a, b) => a.rel.localeCompare(b.rel));
}

/** The workspace packages that are not `"private": true`. */
export function publishedPackages() {
  return workspacePackages().filter((pkg) => pkg.manifest.private !== true);
}

/**
 * `pnpm pack` the packages into `destination`, in one pnpm run. It builds the tarballs
 * `pnpm publish` uploads: `workspace:` ranges rewritten, and the workspace root's LICENSE packed
 * into every package that has none. Returns the tarball of each package, in order.
 */
export function packAll(packages, destination) {
  mkdirSync(destination, { recursive: true });
  const filters = packages.flatMap((pkg) => ['--filter', pkg.name]);
  execFileSync('pnpm', ['--recursive', ...filters, 'pack', '--pack-destination', destination], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
    timeout: 180_000,
  });
  return packages.map((pkg) => {
    const tarball = join(
      destination,
      `${pkg.name.replace(/^@/, '').replace('/', '-')}-${pkg.manifest.version}.tgz`,
    );
    if (!existsSync(tarball)) throw new Error(`pnpm pack wrote no ${tarball}`);
    return tarball;
  });
}

/**
 * Unpack a tarball into `destination` (system tar; npm tarballs hold everything under
 * `package/`). Returns the unpacked package directory.
 */
export function unpack(tarball, destination) {
  mkdirSync(destination, { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', destination], { timeout: 60_000 });
  return join(destination, 'package');
}
