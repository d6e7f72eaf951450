// `prepack` of every published package: copy the repository's LICENSE into the package directory,
// so the tarball carries it while the repository keeps one copy (the package copies are gitignored).
import { copyFileSync } from 'node:fs';

copyFileSync(new URL('../LICENSE', import.meta.url), 'LICENSE');
