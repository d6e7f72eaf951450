import { describe, expect, it } from 'vitest';
import {
  AuthError,
  ConfigError,
  ConnectionClosedError,
  DecodeError,
  ErrorCodes,
  FrameTooLargeError,
  QueueEmptyError,
  QueueFullError,
  TaskwireError,
  ResultEncodingError,
  TaskTimeoutError,
  UnsupportedError,
  WorkerLostError,
} from '../src/index.js';

describe('errors', () => {
  const cases = [
    [QueueEmptyError, ErrorCodes.QUEUE_EMPTY],
    [QueueFullError, ErrorCodes.QUEUE_FULL],
    [AuthError, ErrorCodes.AUTH],
    [UnsupportedError, ErrorCodes.UNSUPPORTED],
    [ConnectionClosedError, ErrorCodes.CONNECTION_CLOSED],
    [FrameTooLargeError, ErrorCodes.FRAME_TOO_LARGE],
    [DecodeError, ErrorCodes.DECODE],
    [ConfigError, ErrorCodes.CONFIG],
    [WorkerLostError, ErrorCodes.WORKER_LOST],
    [TaskTimeoutError, ErrorCodes.TASK_TIMEOUT],
    [ResultEncodingError, ErrorCodes.RESULT_ENCODING],
  ] as const;

  it.each(cases)('%o has a stable code, its own name and isInstance', (ErrorClass, code) => {
    const error = new ErrorClass('message');
    expect(error.code).toBe(code);
    expect(error.name).toBe(ErrorClass.name);
    expect(error).toBeInstanceOf(TaskwireError);
    expect(ErrorClass.isInstance(error)).toBe(true);
    expect(TaskwireError.isInstance(error)).toBe(true);
    const other = cases.find(([C]) => C !== ErrorClass)![0];
    expect(other.isInstance(error)).toBe(false);
  });

  it('isInstance recognises an error from another copy of core by its marker', () => {
    const foreign = Object.assign(new Error('x'), { code: ErrorCodes.QUEUE_FULL });
    Object.defineProperty(foreign, Symbol.for('taskwire.error'), { value: true });
    expect(QueueFullError.isInstance(foreign)).toBe(true);
    expect(QueueFullError.isInstance(new Error('x'))).toBe(false);
  });
});
