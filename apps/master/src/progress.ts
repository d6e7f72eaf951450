/** What the master shows while a job runs. */
export interface ProgressView {
  submitted(payload: unknown): void;
  finished(done: number, failed: number): void;
  stop(): void;
}

/** The seed's lines: `put task 733` on submit (results are printed by the caller). */
export function seedLines(): ProgressView {
  return {
    submitted(payload) {
      console.log(`put task ${JSON.stringify(payload)}`);
    },
    finished() {},
    stop() {},
  };
}

/** Shows nothing (the JSON log format without `--progress`). */
export const noProgress: ProgressView = {
  submitted() {},
  finished() {},
  stop() {},
};
