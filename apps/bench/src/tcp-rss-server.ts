// A standalone TCP manager whose only job is to report its peak RSS (MiB) when asked.
import { serve } from '@taskwire/transport-tcp';
import { trackPeakRss } from './util.js';

const server = await serve({ port: 0 });
const rss = trackPeakRss();
process.send?.({ port: server.address.port });
process.on('message', async (message) => {
  if (message !== 'report') return;
  const queued = server.engine.queue('bench.rss').size;
  process.send?.({ peakRssMiB: rss.stop(), queued });
  await server.close();
  process.exit(0);
});
