export { type RunWorkerOptions, runWorker } from './run.js';
