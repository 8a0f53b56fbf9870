/**
 * reviews, three versions from one program, as in Istio's bookinfo: v1 calls no ratings
 * (ENABLE_RATINGS unset), v2 shows black stars, v3 red (STAR_COLOR).
 */
import { getJson, propagatedHeaders, serve } from '../lib/mesh-http.js';

const workload = process.env.TRELLIS_WORKLOAD ?? 'reviews';
const ratingsEnabled = process.env.ENABLE_RATINGS === 'true';
const starColor = process.env.STAR_COLOR ?? 'black';
const ratingsUrl = process.env.RATINGS_URL ?? 'http://ratings:9080';

const REVIEWS = [
  {
    reviewer: 'Reviewer1',
    text: 'An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!',
  },
  {
    reviewer: 'Reviewer2',
    text: 'Absolutely fun and entertaining. The play lacks thematic depth when compared to other plays by Shakespeare.',
  },
];

serve('reviews', [
  [/^\/health$/, async () => ({ status: 200, body: { status: 'Reviews is healthy' } })],
  [
    /^\/reviews\/(\d+)$/,
    async (req, _url, [id]) => {
      let ratings: Record<string, number> | undefined;
      let ratingsError: string | undefined;
      if (ratingsEnabled) {
        try {
          const r = await getJson(`${ratingsUrl}/ratings/${id}`, propagatedHeaders(req), 10_000);
          if (r.status === 200) ratings = (r.body as { ratings: Record<string, number> }).ratings;
          else ratingsError = `Ratings service returned ${r.status}`;
        } catch (err) {
          ratingsError = `Ratings service is currently unavailable (${(err as Error).message})`;
        }
      }
      const reviews = REVIEWS.map((r) => ({
        ...r,
        ...(ratingsEnabled
          ? {
              rating:
                ratings !== undefined
                  ? { stars: ratings[r.reviewer] ?? 0, color: starColor }
                  : { error: ratingsError ?? 'Ratings service is currently unavailable' },
            }
          : {}),
      }));
      return { status: 200, body: { id: Number(id), podname: workload, clustername: 'null', reviews } };
    },
  ],
]);
