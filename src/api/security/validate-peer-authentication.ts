/**
 * PeerAuthentication validation, after Istio's ValidatePeerAuthentication and the CRD's rules:
 * modes from the enum, portLevelMtls only on a policy whose selector has labels, at least one
 * port when present, ports 1..65535 written as decimal numbers.
 */
import type { Problems } from '../../core/errors.js';
import { fieldPath, isAbsent, SpecCheck, type Obj } from '../fields.js';
import { checkSelector } from './validate-common.js';

const FIELDS = ['selector', 'mtls', 'portLevelMtls'] as const;
const MODES = ['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT'] as const;

function checkMtls(c: SpecCheck, o: Obj, key: string, path: string): void {
  const m = c.child(o, key, path, ['mode']);
  if (m !== undefined) c.enumValue(m, 'mode', fieldPath(path, key), MODES);
}

export function validatePeerAuthentication(spec: unknown, problems: Problems, path = 'spec'): void {
  const c = new SpecCheck(problems);
  const pa = c.object(spec, path, FIELDS);
  if (pa === undefined) return;
  const hasLabels = checkSelector(c, pa, path);
  checkMtls(c, pa, 'mtls', path);

  if (isAbsent(pa.portLevelMtls)) return;
  const pp = fieldPath(path, 'portLevelMtls');
  const ports = c.map(pa, 'portLevelMtls', path);
  if (ports === undefined) return;
  if (!hasLabels) {
    c.error(
      pp,
      'requires a selector with matchLabels; a mesh- or namespace-wide policy cannot set port-level mTLS',
    );
  }
  if (ports.length === 0) c.error(pp, 'must have at least one port when set');
  const portMap = pa.portLevelMtls as Obj;
  for (const port of Object.keys(portMap)) {
    const p = fieldPath(pp, port);
    if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
      c.error(p, `port ${JSON.stringify(port)} must be a number in 1..65535`);
    }
    if (isAbsent(portMap[port])) continue;
    checkMtls(c, portMap, port, pp);
  }
}
