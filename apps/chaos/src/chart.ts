// A throughput chart as a small SVG written by hand: one polyline, shaded fault windows, two axes.
// No charting library: the picture is simple and the output must stay stable and dependency-free.
import { BUCKET_MS, bucketRates, type FaultWindow } from './throughput.js';

const WIDTH = 760;
const HEIGHT = 280;
const MARGIN = { left: 64, right: 16, top: 36, bottom: 40 };

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A tick step of 1, 2 or 5 × 10^n giving about `count` ticks up to `max`. */
function tickStep(max: number, count: number): number {
  const raw = max / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((factor) => factor * magnitude).find((step) => step >= raw) ?? magnitude * 10;
}

/** The SVG of results/s per {@link BUCKET_MS} bucket, fault windows shaded and labelled. */
export function throughputSvg(
  title: string,
  times: readonly number[],
  faults: readonly FaultWindow[],
): string {
  const rates = bucketRates(times);
  const durationMs = Math.max(rates.length * BUCKET_MS, ...faults.map((fault) => fault.end), BUCKET_MS);
  const peak = Math.max(1, ...rates) * 1.1;
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const x = (ms: number) => MARGIN.left + (ms / durationMs) * plotWidth;
  const y = (rate: number) => MARGIN.top + plotHeight - (rate / peak) * plotHeight;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="11">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#fff"/>`,
    `<text x="${MARGIN.left}" y="20" font-size="14" font-weight="bold">${escapeXml(title)}</text>`,
  ];
  for (const [index, fault] of faults.entries()) {
    const left = x(fault.start);
    const width = Math.max(2, x(fault.end) - left);
    parts.push(
      `<rect x="${left.toFixed(1)}" y="${MARGIN.top}" width="${width.toFixed(1)}" height="${plotHeight}" fill="#e4572e" fill-opacity="0.18"><title>${escapeXml(fault.label)}</title></rect>`,
      // Labels of faults close together are staggered down so they do not overlap.
      `<text x="${(left + 3).toFixed(1)}" y="${MARGIN.top + 12 + (index % 4) * 13}" fill="#a33">${escapeXml(fault.label)}</text>`,
    );
  }
  const rateStep = tickStep(peak, 5);
  for (let rate = 0; rate <= peak; rate += rateStep) {
    parts.push(
      `<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${y(rate).toFixed(1)}" y2="${y(rate).toFixed(1)}" stroke="#ddd"/>`,
      `<text x="${MARGIN.left - 6}" y="${(y(rate) + 4).toFixed(1)}" text-anchor="end">${Math.round(rate)}</text>`,
    );
  }
  const secondStep = tickStep(durationMs / 1000, 8);
  for (let second = 0; second * 1000 <= durationMs; second += secondStep) {
    parts.push(
      `<text x="${x(second * 1000).toFixed(1)}" y="${HEIGHT - MARGIN.bottom + 16}" text-anchor="middle">${Number(second.toFixed(2))}</text>`,
    );
  }
  parts.push(
    `<text x="${MARGIN.left + plotWidth / 2}" y="${HEIGHT - 6}" text-anchor="middle">seconds since the job started</text>`,
    `<text transform="translate(14 ${MARGIN.top + plotHeight / 2}) rotate(-90)" text-anchor="middle">results/s (${BUCKET_MS} ms buckets)</text>`,
    `<line x1="${MARGIN.left}" x2="${MARGIN.left}" y1="${MARGIN.top}" y2="${MARGIN.top + plotHeight}" stroke="#333"/>`,
    `<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${MARGIN.top + plotHeight}" y2="${MARGIN.top + plotHeight}" stroke="#333"/>`,
  );
  // Each bucket's rate drawn across its whole width: a step line, so a dip is as wide as it lasted.
  const points = rates.flatMap((rate, index) => [
    `${x(index * BUCKET_MS).toFixed(1)},${y(rate).toFixed(1)}`,
    `${x((index + 1) * BUCKET_MS).toFixed(1)},${y(rate).toFixed(1)}`,
  ]);
  parts.push(
    `<polyline fill="none" stroke="#1d5fa6" stroke-width="1.5" points="${points.join(' ')}"/>`,
    '</svg>',
  );
  return `${parts.join('\n')}\n`;
}
