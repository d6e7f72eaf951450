import { createTcpTransport } from './transport.js';

export { type AuthkeySource, resolveAuthkey } from './auth.js';
export { TcpConnection, type TcpConnectOptions } from './client.js';
export { FRAME_OVERHEAD_BYTES } from './frame-budget.js';
export {
  DEFAULT_MAX_FRAME_BYTES,
  DEFAULT_PORT,
  HANDSHAKE_MAX_FRAME_BYTES,
  PROTOCOL_VERSION,
} from './protocol.js';
export { TcpDelivery, TcpQueue } from './queue.js';
export { type ServeOptions, serve, type TcpServer } from './server.js';
export { createTcpTransport, TCP_CAPABILITIES, TcpTransport } from './transport.js';

/** The transport factory, for `resolveTransport('tcp')` (core's registry imports this package). */
export default createTcpTransport;
