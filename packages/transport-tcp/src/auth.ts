import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError } from '@taskwire/core';

/**
 * Mutual HMAC-SHA256 challenge/response. Each side sends a fresh random nonce and proves it knows
 * the shared key by returning HMAC(key, role label ‖ peer nonce ‖ own nonce). The labels differ per
 * direction, so a proof can never be reflected back to its sender, and the key itself never
 * crosses the wire.
 */

/** Bytes of every nonce. */
export const NONCE_BYTES = 32;

/** Bytes of an HMAC-SHA256 proof. */
export const PROOF_BYTES = 32;

const LABELS = {
  client: Buffer.from('taskwire/1 client proof\0'),
  server: Buffer.from('taskwire/1 server proof\0'),
} as const;

/** Which side a proof comes from. */
export type Role = keyof typeof LABELS;

/** A fresh random nonce. */
export function createNonce(): Buffer {
  return randomBytes(NONCE_BYTES);
}

/** HMAC(key, label(role) ‖ peerNonce ‖ ownNonce): what `role` sends to prove it has the key. */
export function computeProof(
  key: Uint8Array,
  role: Role,
  peerNonce: Uint8Array,
  ownNonce: Uint8Array,
): Buffer {
  return createHmac('sha256', key).update(LABELS[role]).update(peerNonce).update(ownNonce).digest();
}

/** Constant-time check of a received proof against the expected one. */
export function proofMatches(expected: Buffer, received: unknown): boolean {
  // Lengths are public (always 32 for an honest peer), so checking them first leaks nothing.
  return (
    received instanceof Uint8Array &&
    received.length === expected.length &&
    timingSafeEqual(expected, received)
  );
}

/** Where an authkey may come from. */
export interface AuthkeySource {
  /** The shared secret itself. Takes precedence over the environment and the key file. */
  authkey?: string | Uint8Array;
  /** A file whose contents (trailing newline removed) are the key; used when neither the option nor `TASKWIRE_AUTHKEY` is set. */
  authkeyFile?: string;
}

/**
 * Resolve the shared key: option `authkey` > `TASKWIRE_AUTHKEY` > `authkeyFile`.
 * @throws ConfigError when none is set, the file cannot be read, or the key is empty.
 */
export function resolveAuthkey(source: AuthkeySource, env: NodeJS.ProcessEnv = process.env): Buffer {
  let key: Buffer | undefined;
  if (source.authkey !== undefined && source.authkey !== null) {
    key = typeof source.authkey === 'string' ? Buffer.from(source.authkey) : Buffer.from(source.authkey);
  } else if (env.TASKWIRE_AUTHKEY) {
    key = Buffer.from(env.TASKWIRE_AUTHKEY);
  } else if (source.authkeyFile) {
    try {
      key = Buffer.from(readFileSync(source.authkeyFile, 'utf8').replace(/\r?\n$/, ''));
    } catch (error) {
      throw new ConfigError(
        `cannot read the authkey file "${source.authkeyFile}": ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
        { cause: error },
      );
    }
  }
  if (key === undefined) {
    throw new ConfigError(
      'no authkey for the TCP manager: pass { authkey }, set TASKWIRE_AUTHKEY, or pass { authkeyFile }',
    );
  }
  if (key.length === 0) throw new ConfigError('the TCP manager authkey is empty: use a long random secret');
  return key;
}
