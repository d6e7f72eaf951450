export { type RunMasterOptions, runMaster } from './run.js';
