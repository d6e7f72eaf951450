// Its own module: cli-progress is loaded only when the bar is shown, not for the seed's lines.
import { Presets, SingleBar } from 'cli-progress';
import type { ProgressView } from './progress.js';

/** A progress bar on stderr with tasks/s and ETA (periodic lines when stderr is not a TTY). */
export function progressBar(total: number | undefined): ProgressView {
  const bar = new SingleBar(
    {
      stream: process.stderr,
      format: total
        ? ' {bar} {percentage}% | {value}/{total} tasks | {rate} tasks/s | ETA {eta_formatted} | failed {failed}'
        : ' {value} tasks | {rate} tasks/s | failed {failed}',
      noTTYOutput: true,
      notTTYSchedule: 2000,
      etaBuffer: 1000,
      fps: 5,
      hideCursor: true,
    },
    Presets.shades_classic,
  );
  const started = Date.now();
  let lastDrawn = 0;
  let counts = { done: 0, failed: 0 };
  const draw = () => {
    const seconds = (Date.now() - started) / 1000;
    const finished = counts.done + counts.failed;
    bar.update(finished, { rate: seconds > 0 ? Math.round(finished / seconds) : 0, failed: counts.failed });
  };
  bar.start(total ?? 0, 0, { rate: 0, failed: 0 });
  return {
    submitted() {},
    finished(done, failed) {
      counts = { done, failed };
      // Redrawing on every result costs more than the task itself at 100k tasks/s.
      const now = Date.now();
      if (now - lastDrawn < 100 && done + failed !== total) return;
      lastDrawn = now;
      draw();
    },
    stop() {
      draw(); // the last frame shows the final counts, not the last throttled ones
      bar.stop();
    },
  };
}
