/**
 * Orders two resourceVersions the way KubeEdge's cloudhub does: as integers when both are
 * (every etcd-backed API server and ours), otherwise only equality is known.
 * Returns <0, 0 or >0, or `undefined` when the two cannot be ordered.
 */
export function compareResourceVersions(a: string, b: string): number | undefined {
  if (a === b) return 0;
  if (!/^\d+$/.test(a) || !/^\d+$/.test(b)) return undefined;
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Whether `candidate` is newer than `recorded` (unorderable versions count as newer). */
export function isNewerVersion(candidate: string | undefined, recorded: string | undefined) {
  if (candidate === undefined || candidate === '' || recorded === undefined) return true;
  const order = compareResourceVersions(candidate, recorded);
  return order === undefined ? candidate !== recorded : order > 0;
}
