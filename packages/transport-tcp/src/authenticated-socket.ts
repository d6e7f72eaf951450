import { isIP, connect as netConnect, type Socket } from 'node:net';
import { type ConnectionOptions, connect as tlsConnect } from 'node:tls';
import { AuthError, ConfigError, ConnectionClosedError, DecodeError } from '@taskwire/core';
import { computeProof, createNonce, proofMatches } from './auth.js';
import { FrameReader } from './frame-reader.js';
import type { ManagerAddress } from './manager-address.js';
import {
  asBytes,
  asUint,
  decodeFrame,
  HANDSHAKE_MAX_FRAME_BYTES,
  HELLO_MAGIC,
  PROTOCOL_VERSION,
} from './protocol.js';
import { FrameEncoder } from './wire.js';

/** A socket to a TCP manager that has passed the handshake: both sides proved they know the authkey. */
export interface AuthenticatedSocket {
  readonly socket: Socket;
  /** Holds any bytes that arrived after the handshake; keep feeding it. */
  readonly reader: FrameReader;
  /** The server's frame limit, learned in the handshake. */
  readonly maxFrameBytes: number;
}

/** Options of {@link openAuthenticatedSocket}. */
export interface HandshakeOptions {
  /** TLS options for `tcps://` (e.g. `ca` for a private certificate authority). */
  readonly tls: ConnectionOptions | undefined;
  /** Give up on the TCP connect plus handshake after this many ms. */
  readonly timeoutMs: number;
}

/** A length-prefixed frame, for the handshake (written before there is an outbox). */
function framed(message: unknown[]): Buffer {
  const encoder = new FrameEncoder();
  encoder.frame(message);
  return encoder.take();
}

/**
 * Connect and run the client side of the handshake: check the server's hello, prove we have the
 * key, and check the server's proof that it has it too.
 *
 * Rejects with `AuthError` ("authkey rejected by tcp://…") when the server refuses our proof or
 * cannot prove its own, and with `ConnectionClosedError` naming the URL when the socket fails or
 * the handshake does not finish in time.
 */
export function openAuthenticatedSocket(
  address: ManagerAddress,
  key: Buffer,
  options: HandshakeOptions,
): Promise<AuthenticatedSocket> {
  const { label } = address;
  return new Promise<AuthenticatedSocket>((resolve, reject) => {
    const socket = address.secure
      ? tlsConnect({
          host: address.host,
          port: address.port,
          ...(isIP(address.host) ? {} : { servername: address.host }),
          ...options.tls,
        })
      : netConnect({ host: address.host, port: address.port });
    const reader = new FrameReader(HANDSHAKE_MAX_FRAME_BYTES);
    const nonce = createNonce();
    let serverNonce: Uint8Array | undefined;
    let maxFrameBytes = 0;
    let done = false;

    const finish = (error?: Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
      if (error) {
        socket.destroy();
        reject(error);
      } else resolve({ socket, reader, maxFrameBytes });
    };
    const onFrame = (body: Buffer) => {
      const message = decodeFrame(body);
      if (!serverNonce) {
        if (message[0] !== HELLO_MAGIC) throw new DecodeError(`${label} is not a taskwire TCP manager`);
        if (message[1] !== PROTOCOL_VERSION) {
          throw new ConfigError(
            `${label} speaks taskwire protocol ${String(message[1])}; this client speaks ${PROTOCOL_VERSION} (upgrade the older side)`,
          );
        }
        serverNonce = asBytes(message[2], 'server nonce');
        maxFrameBytes = asUint(message[3], 'max frame bytes');
        socket.write(framed([nonce, computeProof(key, 'client', serverNonce, nonce)]));
        return;
      }
      if (message[0] !== true) throw new AuthError(`authkey rejected by ${label}`);
      if (!proofMatches(computeProof(key, 'server', nonce, serverNonce), message[1])) {
        throw new AuthError(`${label} could not prove it knows the authkey; not connecting to it`);
      }
      finish();
    };
    const onData = (chunk: Buffer) => {
      try {
        reader.push(chunk, (body) => {
          if (!done) onFrame(body);
        });
      } catch (error) {
        finish(error as Error);
      }
    };
    const onError = (error: NodeJS.ErrnoException) => {
      finish(
        new ConnectionClosedError(`cannot connect to ${label}: ${error.code ?? error.message}`, {
          cause: error,
        }),
      );
    };
    // A plaintext client talking to a TLS server hears nothing it understands: say so.
    const tlsHint = label.startsWith('tcp://') ? ' (if the server serves TLS, use a tcps:// URL)' : '';
    const onClose = () => {
      finish(new ConnectionClosedError(`${label} closed the connection during the handshake${tlsHint}`));
    };
    const timer = setTimeout(
      () =>
        finish(
          new ConnectionClosedError(`no handshake from ${label} within ${options.timeoutMs} ms${tlsHint}`),
        ),
      options.timeoutMs,
    );
    socket.setNoDelay(true);
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
  });
}
