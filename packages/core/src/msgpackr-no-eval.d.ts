// msgpackr ships a build without dynamic code generation (no `new Function`) but no types for it.
declare module 'msgpackr/index-no-eval' {
  import type { addExtension as addExtensionFn, Packr as PackrClass } from 'msgpackr';

  const msgpackr: { Packr: typeof PackrClass; addExtension: typeof addExtensionFn; C1: object };
  export default msgpackr;
}
