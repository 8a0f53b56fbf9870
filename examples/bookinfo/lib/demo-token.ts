/**
 * Prints a JWT for the jwt-productpage scenario, signed with the demo key in
 * ../security/demo-signing-key.jwk.json (a demo key: anyone can read it).
 *
 *   node --import tsx examples/bookinfo/lib/demo-token.ts [--sub jason] [--ttl 3600] [--aud bookinfo]
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { importJWK, SignJWT, type JWK } from 'jose';

const { values } = parseArgs({
  options: {
    sub: { type: 'string', default: 'jason' },
    ttl: { type: 'string', default: '3600' },
    aud: { type: 'string', default: 'bookinfo' },
  },
});
const jwk = JSON.parse(
  readFileSync(path.join(import.meta.dirname, '../security/demo-signing-key.jwk.json'), 'utf8'),
) as JWK;
const key = await importJWK(jwk, 'ES256');
const now = Math.floor(Date.now() / 1000);
const token = await new SignJWT({})
  .setProtectedHeader({ alg: 'ES256', kid: jwk.kid ?? 'bookinfo-demo' })
  .setIssuer('bookinfo-demo@trellis.io')
  .setSubject(values.sub)
  .setAudience(values.aud)
  .setIssuedAt(now)
  .setExpirationTime(now + Number(values.ttl))
  .sign(key);
process.stdout.write(token + '\n');
