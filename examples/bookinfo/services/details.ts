/** details: the book's facts. */
import { serve } from '../lib/mesh-http.js';

serve('details', [
  [/^\/health$/, async () => ({ status: 200, body: { status: 'Details is healthy' } })],
  [
    /^\/details\/(\d+)$/,
    async (_req, _url, [id]) => ({
      status: 200,
      body: {
        id: Number(id),
        author: 'William Shakespeare',
        year: 1595,
        type: 'paperback',
        pages: 200,
        publisher: 'PublisherA',
        language: 'English',
        'ISBN-10': '1234567890',
        'ISBN-13': '123-1234567890',
      },
    }),
  ],
]);
