/**
 * The long delay the suite puts and nacks with (25 days, past `setTimeout`'s 2^31 - 1 ms). A
 * transport that keeps one backend object per delay (RabbitMQ's TTL queues) can clean it up.
 */
export const LONG_DELAY_MS = 25 * 24 * 60 * 60 * 1000;
