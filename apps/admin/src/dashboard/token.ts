import { createHash, timingSafeEqual } from 'node:crypto';
import { ConfigError } from '@taskwire/core';

/** Hosts that only this machine reaches: a dashboard bound to one may run without a token. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127(\.\d{1,3}){3}$/.test(host);
}

/**
 * Compare a presented token with the expected one in constant time. Both are hashed first, so neither the
 * comparison nor its early length check tells anything about the expected token's length or contents.
 */
export function tokenMatches(presented: string | undefined, expected: string): boolean {
  if (presented === undefined) return false;
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(presented), digest(expected));
}

/** The token of a request: `Authorization: Bearer <token>`. */
export function bearerToken(authorization: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  return match?.[1];
}

/** Refuse to serve a non-loopback address without a token. */
export function requireTokenOffLoopback(host: string, token: string | undefined): void {
  if (!token && !isLoopback(host)) {
    throw new ConfigError(`the dashboard needs --token (or TASKWIRE_DASHBOARD_TOKEN) to listen on ${host}`);
  }
}
