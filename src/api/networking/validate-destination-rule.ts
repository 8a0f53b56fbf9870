/** DestinationRule validation: host, subsets, traffic policies. */
import type { Problems } from '../../core/errors.js';
import { fieldPath, isAbsent, SpecCheck } from '../fields.js';
import { dns1123LabelError } from '../names.js';
import {
  checkExportTo,
  checkHost,
  checkLabels,
  checkName,
  checkWorkloadSelector,
} from './validate-common.js';
import { checkTrafficPolicy } from './validate-traffic-policy.js';

const FIELDS = ['host', 'trafficPolicy', 'subsets', 'exportTo', 'workloadSelector'] as const;

export function validateDestinationRule(spec: unknown, problems: Problems, path = 'spec'): void {
  const c = new SpecCheck(problems);
  const dr = c.object(spec, path, FIELDS);
  if (dr === undefined) return;
  const host = c.string(dr, 'host', path, { required: true });
  if (host !== undefined) checkHost(c, host, fieldPath(path, 'host'));
  checkTrafficPolicy(c, dr, 'trafficPolicy', path);

  const names = new Set<string>();
  for (const s of c.list(dr, 'subsets', path) ?? []) {
    const subset = c.object(s.value, s.path, ['name', 'labels', 'trafficPolicy']);
    if (subset === undefined) continue;
    const name = c.string(subset, 'name', s.path, { required: true });
    if (name !== undefined) {
      const np = fieldPath(s.path, 'name');
      checkName(c, name, np, dns1123LabelError);
      if (names.has(name)) c.error(np, `duplicate subset name ${JSON.stringify(name)}`);
      names.add(name);
    }
    checkLabels(c, subset, 'labels', s.path);
    checkTrafficPolicy(c, subset, 'trafficPolicy', s.path);
  }
  checkExportTo(c, dr, path);
  const selected = checkWorkloadSelector(c, dr, 'workloadSelector', path, 'matchLabels', ['labels']);
  const sel = dr.workloadSelector as Record<string, unknown> | undefined;
  if (selected && sel !== undefined && !isAbsent(sel.labels)) {
    const sp = fieldPath(path, 'workloadSelector');
    if (!isAbsent(sel.matchLabels)) c.error(sp, 'only one of matchLabels, labels may be set');
    c.warning(
      fieldPath(sp, 'labels'),
      'a DestinationRule selects with matchLabels; Istio rejects labels here, so rename it for istioctl',
    );
  }
  if (selected) checkSelectorExportTo(c, dr, path);
}

/** Istio: a rule with a workloadSelector applies in its own namespace only. */
function checkSelectorExportTo(c: SpecCheck, dr: Record<string, unknown>, path: string): void {
  const exportTo = dr.exportTo;
  if (!Array.isArray(exportTo) || exportTo.length === 0) return;
  const p = fieldPath(path, 'exportTo');
  if (exportTo.length > 1) {
    c.error(p, 'a DestinationRule with a workloadSelector cannot have several exportTo entries');
  } else if (exportTo[0] === '*' || exportTo[0] === '~') {
    c.error(
      p,
      'a DestinationRule with a workloadSelector cannot be exported beyond its own namespace; use "."',
    );
  }
}
