import type { SigningKeys } from './signing-keys.js';

/** `polyclinic fhir keys list|rotate|prune` (see `signing-keys.ts`); the exit code. */
export async function fhirKeysCommand(keys: Pick<SigningKeys, 'list' | 'rotate' | 'prune'>, action: string | undefined): Promise<number> {
  if (action === 'rotate') {
    const r = await keys.rotate();
    console.log(`signing key ${r.kid} is active`);
    for (const kid of r.superseded) console.log(`  ${kid} superseded: published until its tokens expire`);
    for (const kid of r.retired) console.log(`  ${kid} retired`);
    return 0;
  }
  if (action === 'prune') {
    const retired = await keys.prune();
    console.log(retired.length ? `retired ${retired.join(', ')}` : 'no key to retire');
    return 0;
  }
  if (action === 'list') {
    for (const k of await keys.list())
      console.log(`${k.kid}  ${k.active ? 'active' : `superseded ${k.supersededAt}, retires ${k.retiresAt}`}  created ${k.createdAt}`);
    return 0;
  }
  console.error('usage: polyclinic fhir keys list|rotate|prune');
  return 2;
}
