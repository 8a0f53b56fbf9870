/** Router validation: every problem with its field path (see router.ts for the schema). */
import type { Problems } from '../../core/errors.js';
import { fieldPath, SpecCheck } from '../fields.js';
import { dns1123LabelError, headerNameError, labelKeyError, labelValueError } from '../names.js';
import { checkHost, checkName } from '../networking/validate-common.js';
import { DEFAULT_PRODUCTION_BRANCH, ROUTER_PROTOCOLS, routerSubsetName } from './router.js';

const FIELDS = [
  'port',
  'protocol',
  'host',
  'versionLabel',
  'branchLabel',
  'productionBranch',
  'sticky',
  'fallback',
  'rolloutTimeout',
  'subsets',
] as const;

export function validateRouter(spec: unknown, problems: Problems, path = 'spec'): void {
  const c = new SpecCheck(problems);
  const r = c.object(spec, path, FIELDS);
  if (r === undefined) return;
  c.port(r, 'port', path, { required: true });
  const protocol = c.string(r, 'protocol', path);
  if (protocol !== undefined && !ROUTER_PROTOCOLS.includes(protocol.toLowerCase() as never))
    c.error(
      fieldPath(path, 'protocol'),
      `expected one of ${ROUTER_PROTOCOLS.join(', ')}, got ${JSON.stringify(protocol)}`,
    );
  const host = c.string(r, 'host', path);
  if (host !== undefined) {
    if (host.includes('*')) c.error(fieldPath(path, 'host'), 'a Router names one service: no wildcard hosts');
    else checkHost(c, host, fieldPath(path, 'host'));
  }
  for (const key of ['versionLabel', 'branchLabel'] as const) {
    const label = c.string(r, key, path);
    if (label === undefined) continue;
    const err = label === '' ? 'must not be empty' : labelKeyError(label);
    if (err !== undefined) c.error(fieldPath(path, key), err);
  }
  const production = c.string(r, 'productionBranch', path) ?? DEFAULT_PRODUCTION_BRANCH;
  checkName(c, production, fieldPath(path, 'productionBranch'), labelValueError);
  checkSticky(c, r, path);
  c.bool(r, 'fallback', path);
  c.duration(r, 'rolloutTimeout', path);
  checkSubsets(c, r, path, production);
}

function checkSticky(c: SpecCheck, r: Record<string, unknown>, path: string): void {
  const sticky = c.child(r, 'sticky', path, ['header', 'cookie']);
  if (sticky === undefined) return;
  const sp = fieldPath(path, 'sticky');
  const header = c.string(sticky, 'header', sp);
  const cookie = c.string(sticky, 'cookie', sp);
  if ((header === undefined) === (cookie === undefined)) {
    c.error(sp, 'set exactly one of header or cookie: the value that keeps a user on one version');
    return;
  }
  if (header !== undefined) {
    const err =
      headerNameError(header) ??
      (header !== header.toLowerCase() ? 'header names must be lower case' : undefined);
    if (err !== undefined) c.error(fieldPath(sp, 'header'), err);
  }
  if (cookie !== undefined && !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(cookie))
    c.error(fieldPath(sp, 'cookie'), `${JSON.stringify(cookie)} is not a cookie name (RFC 6265 token)`);
}

function checkSubsets(c: SpecCheck, r: Record<string, unknown>, path: string, production: string): void {
  const items = c.list(r, 'subsets', path, { required: true, nonEmpty: true });
  if (items === undefined) return;
  const branches = new Map<string, string>();
  /** Derived subset name -> where it comes from (two versions may map to one name). */
  const subsetNames = new Map<string, string>();
  for (const item of items) {
    const s = c.object(item.value, item.path, ['branch', 'versions']);
    if (s === undefined) continue;
    const branch = c.string(s, 'branch', item.path, { required: true });
    if (branch === undefined) continue;
    const bp = fieldPath(item.path, 'branch');
    const err = labelValueError(branch) ?? (branch === '' ? 'must not be empty' : undefined);
    if (err !== undefined) {
      c.error(bp, err);
      continue;
    }
    const first = branches.get(branch);
    if (first !== undefined) {
      c.error(bp, `duplicate branch ${JSON.stringify(branch)} (first at ${first})`);
      continue;
    }
    branches.set(branch, bp);
    const claim = (name: string, where: string) => {
      const nameErr = dns1123LabelError(name);
      if (nameErr !== undefined) {
        c.error(where, `makes the subset name ${JSON.stringify(name)}, which is invalid: ${nameErr}`);
        return;
      }
      const other = subsetNames.get(name);
      if (other !== undefined && other !== where)
        c.error(where, `makes the subset name ${JSON.stringify(name)}, as ${other} does; rename one`);
      subsetNames.set(name, where);
    };
    const versions = c.map(s, 'versions', item.path);
    if (versions === undefined || versions.length === 0) {
      claim(routerSubsetName(branch), bp);
      continue;
    }
    const vp = fieldPath(item.path, 'versions');
    let sum = 0;
    let valid = true;
    for (const [version, weight] of Object.entries(s.versions as Record<string, unknown>)) {
      const p = fieldPath(vp, version);
      const vErr = labelValueError(version) ?? (version === '' ? 'must not be empty' : undefined);
      if (vErr !== undefined) {
        c.error(p, `version ${vErr}`);
        valid = false;
      } else claim(routerSubsetName(branch, version), p);
      if (typeof weight !== 'number' || !Number.isInteger(weight) || weight < 0 || weight > 100) {
        c.error(p, `expected a whole-number weight from 0 to 100, got ${JSON.stringify(weight)}`);
        valid = false;
      } else sum += weight;
    }
    if (valid && sum !== 100) c.error(vp, `weights sum to ${sum}; they must sum to 100`);
  }
  if (!branches.has(production)) {
    const listed = [...branches.keys()].map((b) => JSON.stringify(b)).join(', ');
    c.error(
      fieldPath(path, 'subsets'),
      `the production branch ${JSON.stringify(production)} is not listed (branches: ${listed}); add it, or name another with productionBranch`,
    );
  }
}
