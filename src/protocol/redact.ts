/**
 * Redaction of secrets in config dumps, as Envoy's admin does it: fields the Envoy API marks
 * `udpa.annotations.sensitive` (a TlsCertificate's private_key and password, session ticket
 * keys, a generic secret) keep their shape but every value becomes "[redacted]"; bytes fields
 * hold those bytes, so proto3 JSON prints them as base64 ("W3JlZGFjdGVkXQ=="), exactly what
 * `curl localhost:15000/config_dump` on Envoy shows. Works on the proto3 JSON (camelCase) of a
 * Secret (what anyToJson returns), for the proxy's and the control plane's dumps alike.
 */

export const REDACTED = '[redacted]';
const REDACTED_BYTES = Buffer.from(REDACTED).toString('base64');

type JsonObject = Record<string, unknown>;

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const camel = (name: string) => name.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());

/** Every scalar under a sensitive field replaced. */
function redactValue(value: unknown, key = ''): unknown {
  if (Array.isArray(value)) return value.map((v) => redactValue(v, key));
  if (isObject(value)) {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) =>
        // protobufjs names the chosen member of a oneof (`specifier: "inline_string"`): not a value.
        typeof v === 'string' && camel(v) in value ? [k, v] : [k, redactValue(v, k)],
      ),
    );
  }
  if (key === 'inlineBytes') return REDACTED_BYTES;
  if (key === '@type') return value;
  return typeof value === 'string' ? REDACTED : value;
}

/** A Secret in proto3 JSON with its sensitive fields redacted (a copy; the input is untouched). */
export function redactSecretJson(secret: JsonObject): JsonObject {
  const out: JsonObject = { ...secret };
  const cert = secret.tlsCertificate;
  if (isObject(cert)) {
    const c: JsonObject = { ...cert };
    for (const field of ['privateKey', 'password']) if (field in c) c[field] = redactValue(c[field]);
    out.tlsCertificate = c;
  }
  if ('sessionTicketKeys' in secret) out.sessionTicketKeys = redactValue(secret.sessionTicketKeys);
  if ('genericSecret' in secret) out.genericSecret = redactValue(secret.genericSecret);
  return out;
}
