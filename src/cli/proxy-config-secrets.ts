/**
 * `trellis proxy-config secret`: the secrets of a config dump in the columns `istioctl
 * proxy-config secret` prints (RESOURCE NAME, TYPE, STATUS, VALID CERT, SERIAL NUMBER, NOT
 * AFTER, NOT BEFORE), plus IDENTITY last: the leaf's SPIFFE URI SAN, or a CA's subject.
 *
 * Reads Envoy's envoy.admin.v3.SecretsConfigDump in proto3 JSON (a proxy's admin /config_dump:
 * staticSecrets, dynamicActiveSecrets, dynamicWarmingSecrets, each secret's certificate as
 * inlineBytes/inlineString) and the control plane's /debug/config_dump (dynamic_active_secrets
 * with `resource`). A certificate chain shows its leaf; a trust bundle one row per root (old and
 * new during a root rotation). Pure over JSON: table-tested.
 */
import { X509Certificate } from 'node:crypto';
import { parseCertificates } from '../core/pem.js';
import { arr, obj, type Json } from './config-dump.js';
import { formatTable } from './table.js';

export interface SecretEntry {
  name: string;
  status: 'ACTIVE' | 'WARMING';
  /** The Secret in proto3 JSON; absent for a warming secret that has not arrived. */
  secret: Json | undefined;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** Every secret of the dump's SecretsConfigDump sections, in dump order. */
export function secretEntries(dump: unknown): SecretEntry[] {
  const out: SecretEntry[] = [];
  for (const c of arr(obj(dump).configs)) {
    const section = obj(c);
    if (!str(section['@type']).endsWith('.SecretsConfigDump')) continue;
    const add = (keys: string[], status: SecretEntry['status'], body: (e: Json) => unknown) => {
      for (const k of keys)
        for (const e of arr(section[k])) {
          const entry = obj(e);
          const secret = obj(body(entry));
          const name = str(entry.name) || str(secret.name);
          out.push({ name, status, secret: Object.keys(secret).length > 0 ? secret : undefined });
        }
    };
    add(['staticSecrets', 'static_secrets'], 'ACTIVE', (e) => e.secret ?? e.resource);
    add(['dynamicActiveSecrets', 'dynamic_active_secrets'], 'ACTIVE', (e) => e.secret ?? e.resource);
    add(['dynamicWarmingSecrets', 'dynamic_warming_secrets'], 'WARMING', (e) => e.secret ?? e.resource);
  }
  return out;
}

/** PEM text of a DataSource (`inlineBytes` base64, `inlineString`); undefined for a file or nothing. */
function dataSourceText(ds: Json): string | undefined {
  const bytes = ds.inlineBytes ?? ds.inline_bytes;
  if (typeof bytes === 'string') return Buffer.from(bytes, 'base64').toString('utf8');
  const s = ds.inlineString ?? ds.inline_string;
  return typeof s === 'string' ? s : undefined;
}

/** Envoy's time format in istioctl: RFC 3339 in UTC, whole seconds. */
function rfc3339(date: string): string {
  const t = Date.parse(date);
  return Number.isNaN(t) ? '-' : new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function certRow(name: string, type: string, status: string, cert: X509Certificate, nowMs: number): string[] {
  const from = Date.parse(cert.validFrom);
  const to = Date.parse(cert.validTo);
  const uri = /(?:^|, )URI:([^,\s]+)/.exec(cert.subjectAltName ?? '')?.[1];
  // Workload leaves have an empty subject (node:crypto gives undefined then).
  const dn = (cert.subject as string | undefined) ?? '';
  const subject = dn.split('\n').find((l) => l.startsWith('CN=')) ?? (dn.replace(/\n/g, ', ') || '-');
  return [
    name,
    type,
    status,
    String(from <= nowMs && nowMs <= to),
    // As istioctl prints a serial: lowercase hex without leading zeros.
    cert.serialNumber.toLowerCase().replace(/^0+(?=.)/, ''),
    rfc3339(cert.validTo),
    rfc3339(cert.validFrom),
    uri ?? subject,
  ];
}

/** The rows of one secret: its chain's leaf, or each root of its trust bundle. */
function secretRows(e: SecretEntry, nowMs: number): string[][] {
  const none = (type: string, valid = '-') => [[e.name, type, e.status, valid, '-', '-', '-', '-']];
  if (e.secret === undefined) return none('-');
  const tls = e.secret.tlsCertificate ?? e.secret.tls_certificate;
  const validation = e.secret.validationContext ?? e.secret.validation_context;
  const [type, source] =
    tls !== undefined
      ? ['Cert Chain', obj(obj(tls).certificateChain ?? obj(tls).certificate_chain)]
      : validation !== undefined
        ? ['CA', obj(obj(validation).trustedCa ?? obj(validation).trusted_ca)]
        : ['-', {}];
  if (type === '-') return none('-');
  const text = dataSourceText(source);
  if (text === undefined) return none(type); // a file the dump does not include
  const certs = parseCertificates(text);
  if (!certs.ok) return none(type, 'false');
  const shown = type === 'Cert Chain' ? certs.value.slice(0, 1) : certs.value;
  return shown.map((c) => certRow(e.name, type, e.status, c, nowMs));
}

export function renderSecrets(entries: readonly SecretEntry[], nowMs: number): string {
  return formatTable(
    ['RESOURCE NAME', 'TYPE', 'STATUS', 'VALID CERT', 'SERIAL NUMBER', 'NOT AFTER', 'NOT BEFORE', 'IDENTITY'],
    entries.flatMap((e) => secretRows(e, nowMs)),
  );
}

/** Each certificate a proxy holds (a chain's leaf, every root of a bundle) and when it expires. */
export function certificateExpiries(
  entries: readonly SecretEntry[],
): { secret: string; type: 'Cert Chain' | 'CA'; subject: string; notAfterMs: number }[] {
  const out: { secret: string; type: 'Cert Chain' | 'CA'; subject: string; notAfterMs: number }[] = [];
  for (const e of entries) {
    if (e.secret === undefined || e.status !== 'ACTIVE') continue;
    const tls = e.secret.tlsCertificate ?? e.secret.tls_certificate;
    const validation = e.secret.validationContext ?? e.secret.validation_context;
    const type = tls !== undefined ? 'Cert Chain' : validation !== undefined ? 'CA' : undefined;
    if (type === undefined) continue;
    const source =
      type === 'Cert Chain'
        ? obj(obj(tls).certificateChain ?? obj(tls).certificate_chain)
        : obj(obj(validation).trustedCa ?? obj(validation).trusted_ca);
    const text = dataSourceText(source);
    if (text === undefined) continue;
    const certs = parseCertificates(text);
    if (!certs.ok) continue;
    for (const c of type === 'Cert Chain' ? certs.value.slice(0, 1) : certs.value) {
      const uri = /(?:^|, )URI:([^,\s]+)/.exec(c.subjectAltName ?? '')?.[1];
      out.push({
        secret: e.name,
        type,
        subject: uri ?? ((c.subject as string | undefined) ?? '').replace(/\n/g, ', '),
        notAfterMs: Date.parse(c.validTo),
      });
    }
  }
  return out;
}
