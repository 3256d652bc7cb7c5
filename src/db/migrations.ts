/**
 * Domains own their migrations; a version is global. Several domains may each contribute a part of one
 * version (the first control-plane version created regions and clinics, users and sessions, memberships), and
 * a deployed database records the version, not the parts, so the parts of a version stay together and keep
 * the version's recorded name.
 */
export interface VersionedPart {
  version: number;
  /** The name the migration ledger records for the version; every part of one version carries the same. */
  name: string;
}

/**
 * One list in version order from the domains' lists. `lists` come in dependency order (a domain after the
 * domains whose tables it references), and the parts of one version run in that order; `join` makes one
 * migration of them. A version listed twice by one domain, or parts of one version with different names,
 * are mistakes and stop the start-up.
 */
export function composeVersions<M extends VersionedPart>(lists: readonly (readonly M[])[], join: (parts: M[]) => M): M[] {
  const byVersion = new Map<number, M[]>();
  for (const list of lists) {
    const seen = new Set<number>();
    for (const part of list) {
      if (seen.has(part.version)) throw new Error(`migration version ${part.version} appears twice in one domain's list`);
      seen.add(part.version);
      const parts = byVersion.get(part.version) ?? [];
      if (parts[0] && parts[0].name !== part.name)
        throw new Error(`migration version ${part.version} is named both '${parts[0].name}' and '${part.name}'`);
      byVersion.set(part.version, [...parts, part]);
    }
  }
  return [...byVersion.entries()].sort(([a], [b]) => a - b).map(([, parts]) => (parts.length === 1 ? parts[0]! : join(parts)));
}
