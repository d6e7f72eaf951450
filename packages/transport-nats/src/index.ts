import { createNatsTransport } from './transport.js';

export { NatsConnection } from './connection.js';
export { decodeName, encodeName, type QueueNames, queueNames } from './names.js';
export { createNatsTransport, NATS_CAPABILITIES, NatsTransport } from './transport.js';
export { DEFAULT_NATS_URL, type NatsConnectOptions, parseNatsUrl } from './url.js';

/** The factory core's registry calls for `nats://` URLs. */
export default createNatsTransport;
