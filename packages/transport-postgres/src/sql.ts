import { createHash } from 'node:crypto';

/** Schema names the transport accepts: a plain lower-case identifier, so it is safe in every statement. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** `schema`, checked: a lower-case identifier of at most 63 characters. */
export function checkSchemaName(schema: string): string {
  if (typeof schema !== 'string' || !SCHEMA_NAME.test(schema)) {
    throw new TypeError(
      `schema must be a lower-case identifier (letters, digits, _; at most 63 characters), got "${String(schema)}"`,
    );
  }
  return schema;
}

/** A checked schema name as an SQL identifier. */
export function quoteIdent(schema: string): string {
  return `"${checkSchemaName(schema)}"`;
}

/** `s` (a checked, quoted schema name) as an SQL string literal, for the functions that hash it. */
export function schemaLiteral(quoted: string): string {
  return `'${quoted.slice(1, -1)}'`;
}

/**
 * The NOTIFY channel of queue `queue`: a hash, because a channel name is at most 63 bytes and a queue name is not.
 * The SQL function `<schema>.wake_channel` computes the same.
 */
export function wakeChannel(schema: string, queue: string): string {
  return `tw_${createHash('md5').update(`${schema}/${queue}`).digest('hex').slice(0, 24)}`;
}

/** The NOTIFY channel of broadcast channel `channel`. */
export function broadcastChannel(schema: string, channel: string): string {
  return `twb_${createHash('md5').update(`${schema}/${channel}`).digest('hex').slice(0, 24)}`;
}

/**
 * The first key of the shared advisory locks that count the consumers of queue `queue` (a non-negative int4):
 * each running consumer holds `(class, its own number)` on its connection's LISTEN session.
 */
export function consumerLockClass(schema: string, queue: string): number {
  return createHash('md5').update(`${schema}/${queue}`).digest().readUInt32BE(0) & 0x7fffffff;
}
