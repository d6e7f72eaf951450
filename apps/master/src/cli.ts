#!/usr/bin/env node
// The local workers are forked before the master loads anything else: their start-up (Node's, then
// their modules') then overlaps the master's own instead of following it. They wait for their
// arguments, which the master sends once it knows them (see LocalWorkers).
import { preforkLocalWorkers, workersRequested } from './local-workers.js';

preforkLocalWorkers(workersRequested(process.argv.slice(2)));
await import('./main.js');
