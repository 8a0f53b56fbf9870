/**
 * productpage: the page a person sees. Calls details and reviews (through its sidecar) and
 * shows which reviews version answered and its stars. `/login?user=jason` sets a cookie that
 * makes every later request carry `end-user: jason`, as Istio's bookinfo does.
 */
import type http from 'node:http';
import { getJson, propagatedHeaders, serve, type JsonResponse } from '../lib/mesh-http.js';

const detailsUrl = process.env.DETAILS_URL ?? 'http://details:9080';
const reviewsUrl = process.env.REVIEWS_URL ?? 'http://reviews:9080';

interface Review {
  reviewer: string;
  text: string;
  rating?: { stars: number; color: string } | { error: string };
}

function user(req: http.IncomingMessage): string | undefined {
  const header = req.headers['end-user'];
  if (typeof header === 'string' && header !== '') return header;
  const m = /(?:^|;\s*)user=([^;]+)/.exec(req.headers.cookie ?? '');
  return m ? decodeURIComponent(m[1] ?? '') : undefined;
}

function outgoing(req: http.IncomingMessage): Record<string, string> {
  const headers = propagatedHeaders(req);
  const u = user(req);
  if (u !== undefined) headers['end-user'] = u;
  return headers;
}

async function call(url: string, headers: Record<string, string>): Promise<JsonResponse> {
  try {
    return await getJson(url, headers, 15_000);
  } catch (err) {
    return { status: 0, body: { error: (err as Error).message } };
  }
}

const escape = (s: string) =>
  s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] ?? c);

function renderReview(r: Review): string {
  let rating = '';
  if (r.rating && 'stars' in r.rating) {
    rating = `<font color="${escape(r.rating.color)}" class="stars">${'★'.repeat(r.rating.stars)}${'☆'.repeat(5 - r.rating.stars)}</font>`;
  } else if (r.rating && 'error' in r.rating) {
    rating = `<p class="ratings-error">${escape(r.rating.error)}</p>`;
  }
  return `<blockquote><p>${escape(r.text)}</p><small>${escape(r.reviewer)}</small>${rating}</blockquote>`;
}

async function productPage(req: http.IncomingMessage) {
  const headers = outgoing(req);
  const [details, reviews] = await Promise.all([
    call(`${detailsUrl}/details/0`, headers),
    call(`${reviewsUrl}/reviews/0`, headers),
  ]);
  const u = user(req);
  const d = details.status === 200 ? (details.body as Record<string, unknown>) : undefined;
  const r = reviews.status === 200 ? (reviews.body as { podname: string; reviews: Review[] }) : undefined;
  const body = `<!DOCTYPE html>
<html><head><title>Simple Bookstore App</title><link rel="stylesheet" href="/static/bookinfo.css"></head>
<body>
<nav>${u ? `Signed in as <b id="user">${escape(u)}</b> <a href="/logout">sign out</a>` : '<a href="/login?user=jason">sign in as jason</a>'}</nav>
<h1>The Comedy of Errors</h1>
<section id="details">${
    d
      ? `<dl>${Object.entries(d)
          .filter(([k]) => k !== 'id')
          .map(([k, v]) => `<dt>${escape(k)}</dt><dd>${escape(String(v))}</dd>`)
          .join('')}</dl>`
      : `<p class="error">Error fetching product details (${details.status})</p>`
  }</section>
<section id="reviews">${
    r
      ? `<p id="reviews-version">Reviews served by: ${escape(r.podname)}</p>${r.reviews.map(renderReview).join('')}`
      : `<p class="error">Error fetching product reviews (${reviews.status})</p>`
  }</section>
</body></html>
`;
  return { status: 200, body };
}

serve('productpage', [
  [/^\/health$/, async () => ({ status: 200, body: { status: 'Productpage is healthy' } })],
  [/^\/$/, async () => ({ status: 302, body: '', headers: { location: '/productpage' } })],
  [/^\/productpage$/, async (req) => productPage(req)],
  [
    /^\/login$/,
    async (_req, url) => ({
      status: 302,
      body: '',
      headers: {
        location: '/productpage',
        'set-cookie': `user=${encodeURIComponent(url.searchParams.get('user') ?? 'jason')}; Path=/`,
      },
    }),
  ],
  [
    /^\/logout$/,
    async () => ({
      status: 302,
      body: '',
      headers: { location: '/productpage', 'set-cookie': 'user=; Path=/; Max-Age=0' },
    }),
  ],
  [/^\/api\/v1\/products$/, async () => ({ status: 200, body: [{ id: 0, title: 'The Comedy of Errors' }] })],
  [
    /^\/api\/v1\/products\/(\d+)\/reviews$/,
    async (req, _url, [id]) => {
      const r = await call(`${reviewsUrl}/reviews/${id}`, outgoing(req));
      return { status: r.status || 503, body: r.body };
    },
  ],
  [
    /^\/static\/bookinfo\.css$/,
    async () => ({
      status: 200,
      body: 'body { font-family: sans-serif; max-width: 48em; margin: 2em auto; } .stars { font-size: 1.4em; }',
      headers: { 'content-type': 'text/css' },
    }),
  ],
]);
