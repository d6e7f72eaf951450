#!/usr/bin/env node
// The command's entry point, committed (not built) so that `pnpm install` links the command even
// in a fresh clone, before `dist/` exists.
import { existsSync } from 'node:fs';

const built = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(built)) {
  console.error('taskwire: not built yet: run `pnpm build` in the repository first');
  process.exit(1);
}
await import(built.href);
