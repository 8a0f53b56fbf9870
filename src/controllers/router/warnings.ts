/**
 * What a Router serves but its status should say: endpoints of its host without the branch label
 * are in no subset (every subset, the production one too, selects `{branchLabel: BRANCH}`), so
 * they receive no traffic through the Router. Selecting production by version alone would also
 * take sandbox workloads of that version, so the label is required and its absence reported.
 */

/** One warning per distinct label set of the endpoints lacking `branchLabel`. */
export function unbranchedWarnings(
  labels: readonly Readonly<Record<string, string>>[],
  branchLabel: string,
  productionBranch: string,
): string[] {
  const counts = new Map<string, number>();
  for (const l of labels) {
    if (l[branchLabel] !== undefined) continue;
    const key = Object.entries(l)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(
      ([key, n]) =>
        `${n} endpoint${n === 1 ? '' : 's'} with labels {${key}} lack${n === 1 ? 's' : ''} the label ${branchLabel} and ${n === 1 ? 'is' : 'are'} in no subset (no traffic reaches ${n === 1 ? 'it' : 'them'}): label production workloads ${branchLabel}: ${productionBranch}`,
    );
}
