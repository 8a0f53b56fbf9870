/**
 * Checks shared by the security kinds: the workload selector, policy target references, and
 * the rule that a policy picks its workloads one way only. Istio's rules are those of
 * pkg/config/validation (validateWorkloadSelector, validatePolicyTargetReference,
 * validateOneOfSelectorType) and of the security CRDs' x-kubernetes-validations.
 */
import { fieldPath, isAbsent, type Obj, type SpecCheck } from '../fields.js';
import { dns1123SubdomainError, labelKeyError, labelValueError } from '../names.js';

/**
 * `selector: { matchLabels }`. Returns whether the selector has at least one label (a
 * PeerAuthentication needs one for portLevelMtls). Istio warns on a selector without labels:
 * it selects every workload of the namespace, as leaving it out does.
 */
export function checkSelector(c: SpecCheck, o: Obj, path: string): boolean {
  const sel = c.child(o, 'selector', path, ['matchLabels']);
  if (sel === undefined) return false;
  const sp = fieldPath(path, 'selector');
  const labels = c.stringMap(sel, 'matchLabels', sp) ?? new Map<string, string>();
  for (const [k, v] of labels) {
    const p = fieldPath(fieldPath(sp, 'matchLabels'), k);
    if (k === '') c.error(p, 'label key must not be empty');
    else if (k.includes('*')) c.error(p, 'wildcard not allowed in a label key');
    else if (v.includes('*')) c.error(p, 'wildcard not allowed in a label value');
    else {
      const err = labelKeyError(k) ?? labelValueError(v);
      if (err !== undefined) c.error(p, err);
    }
  }
  if (labels.size === 0) {
    c.warning(sp, 'selector without matchLabels selects every workload in the namespace');
  }
  return labels.size > 0;
}

const TARGET_REF_FIELDS = ['group', 'kind', 'name', 'namespace'] as const;

/** The kinds a policy may target, by group (`""` is the core group), as Istio allows them. */
const TARGET_KINDS: readonly { group: string; kind: string }[] = [
  { group: '', kind: 'Service' },
  { group: 'networking.istio.io', kind: 'ServiceEntry' },
  { group: 'gateway.networking.k8s.io', kind: 'Gateway' },
  { group: 'gateway.networking.k8s.io', kind: 'GatewayClass' },
];

export function checkTargetRef(c: SpecCheck, value: unknown, path: string): void {
  if (isAbsent(value)) {
    c.error(path, 'must not be null');
    return;
  }
  const ref = c.object(value, path, TARGET_REF_FIELDS);
  if (ref === undefined) return;
  const group = c.string(ref, 'group', path) ?? '';
  const kind = c.string(ref, 'kind', path, { required: true });
  const name = c.string(ref, 'name', path, { required: true });
  const namespace = c.string(ref, 'namespace', path);
  if (name !== undefined) {
    const err = dns1123SubdomainError(name);
    if (err !== undefined) c.error(fieldPath(path, 'name'), err);
  }
  if (namespace !== undefined && namespace !== '') {
    c.error(fieldPath(path, 'namespace'), 'must not be set; cross-namespace references are not supported');
  }
  const canonical = group === 'core' ? '' : group;
  if (kind !== undefined && !TARGET_KINDS.some((t) => t.group === canonical && t.kind === kind)) {
    c.error(
      path,
      `cannot target ${group === '' ? '' : `${group}/`}${kind}; expected one of ${TARGET_KINDS.map((t) => (t.group === '' ? t.kind : `${t.group}/${t.kind}`)).join(', ')}`,
    );
  }
}

/** selector, targetRef and targetRefs: at most one of them (Istio's validateOneOfSelectorType). */
export function checkWorkloadSelection(c: SpecCheck, o: Obj, path: string): boolean {
  const hasLabels = checkSelector(c, o, path);
  if (!isAbsent(o.targetRef)) checkTargetRef(c, o.targetRef, fieldPath(path, 'targetRef'));
  const refs = c.list(o, 'targetRefs', path) ?? [];
  if (refs.length > 16) c.error(fieldPath(path, 'targetRefs'), `at most 16 entries; found ${refs.length}`);
  for (const r of refs) checkTargetRef(c, r.value, r.path);
  const set = [
    isAbsent(o.selector) ? undefined : 'selector',
    isAbsent(o.targetRef) ? undefined : 'targetRef',
    refs.length > 0 ? 'targetRefs' : undefined,
  ].filter((k) => k !== undefined);
  if (set.length > 1) {
    c.error(path, `only one of selector, targetRef, targetRefs may be set; found ${set.join(', ')}`);
  }
  return hasLabels;
}

/** A list of strings none of which may be empty (Istio's CheckEmptyValues). */
export function nonEmptyStrings(
  c: SpecCheck,
  o: Obj,
  key: string,
  path: string,
): { value: string; path: string }[] {
  const items = c.stringList(o, key, path) ?? [];
  for (const item of items) if (item.value === '') c.error(item.path, 'must not be empty');
  return items.filter((i) => i.value !== '');
}
