/**
 * ratings: stars per reviewer. Fails on demand, to show retries: the first request carrying
 * `x-bookinfo-fail: ratings-once-TOKEN` gets a 500, later ones with the same TOKEN succeed.
 * (500, not 503: Istio's default retry policy already retries 503.)
 */
import { serve } from '../lib/mesh-http.js';

const failedOnce = new Set<string>();

serve('ratings', [
  [/^\/health$/, async () => ({ status: 200, body: { status: 'Ratings is healthy' } })],
  [
    /^\/ratings\/(\d+)$/,
    async (req, _url, [id]) => {
      const fail = req.headers['x-bookinfo-fail'];
      if (typeof fail === 'string' && fail.startsWith('ratings-once-') && !failedOnce.has(fail)) {
        if (failedOnce.size > 10_000) failedOnce.clear();
        failedOnce.add(fail);
        return { status: 500, body: { error: `injected failure ${fail}` } };
      }
      return { status: 200, body: { id: Number(id), ratings: { Reviewer1: 5, Reviewer2: 4 } } };
    },
  ],
]);
