/**
 * Orders two resourceVersions (`header.resourceversion`) the way KubeEdge does: as integers
 * when both are (every etcd-backed API server, and @ke/apiserver), otherwise only equality is
 * known. Returns <0, 0 or >0, or `undefined` when the two cannot be ordered.
 */
export function compareResourceVersions(a: string, b: string): number | undefined {
  if (a === b) return 0;
  if (!/^\d+$/.test(a) || !/^\d+$/.test(b)) return undefined;
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * Whether `candidate` should replace `recorded`: it is newer, or the two cannot be ordered and
 * differ, or either is unknown. This is the rule that keeps an older version from overwriting
 * a newer one in cloudhub's delivery records and in the edge store.
 */
export function isNewerResourceVersion(
  candidate: string | undefined,
  recorded: string | undefined,
): boolean {
  if (candidate === undefined || candidate === '' || recorded === undefined) return true;
  const order = compareResourceVersions(candidate, recorded);
  return order === undefined ? candidate !== recorded : order > 0;
}
