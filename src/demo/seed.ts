import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Platform } from '../platform/platform.js';
import { createClinic } from '../controlplane/provisioning.js';
import type { ClinicTier } from '../controlplane/schema.js';
import { createPatient } from '../patients/store.js';

export interface DemoCredentials {
  operator: { email: string; password: string };
  staffPassword: string;
  clinics: { slug: string; name: string; region: string; placement: string; clinicId: string; users: { email: string; role: string }[] }[];
}

const FLEET: { slug: string; name: string; tier: ClinicTier; region: string; specialty: string }[] = [
  { slug: 'maple-family', name: 'Maple Family Practice', tier: 'small', region: 'us-east', specialty: 'family-medicine' },
  { slug: 'hudson-urgent', name: 'Hudson Urgent Care', tier: 'mid', region: 'us-east', specialty: 'urgent-care' },
  { slug: 'atlantic-health', name: 'Atlantic Health Network', tier: 'enterprise', region: 'us-east', specialty: 'multi-specialty' },
  { slug: 'praxis-lindenhof', name: 'Praxis Lindenhof', tier: 'small', region: 'eu-central', specialty: 'general-practice' },
  { slug: 'rhein-mental', name: 'Rhein Mental Health', tier: 'mid', region: 'eu-central', specialty: 'mental-health' },
  { slug: 'alpen-klinikum', name: 'Alpen Klinikum', tier: 'enterprise', region: 'eu-central', specialty: 'multi-specialty' },
];

const PATIENTS = [
  ['Ada', 'Lovelace', '1985-12-10', 'female'],
  ['Alan', 'Turing', '1962-06-23', 'male'],
  ['Grace', 'Hopper', '1946-12-09', 'female'],
  ['Edsger', 'Dijkstra', '1970-05-11', 'male'],
  ['Barbara', 'Liskov', '1979-11-07', 'female'],
] as const;

/**
 * The demo fleet of the embedded default: six clinics over both regions and all three placements, each with
 * an admin, a physician and a few patients. Credentials are generated once and kept in the data directory,
 * so every start prints the same ones. Re-running leaves existing clinics alone.
 */
export async function seedDemo(p: Platform): Promise<DemoCredentials> {
  const file = join(p.config.dataDir, 'demo-credentials.json');
  const saved: Partial<DemoCredentials> = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
  const operator = p.config.operator ?? saved.operator ?? { email: 'operator@polyclinic.local', password: randomBytes(9).toString('base64url') };
  const staffPassword = saved.staffPassword ?? randomBytes(9).toString('base64url');
  await p.users.ensureOperator(operator.email, operator.password);

  const creds: DemoCredentials = { operator, staffPassword, clinics: [] };
  for (const d of FLEET) {
    if (!p.config.regions.some((r) => r.id === d.region)) continue;
    let clinic = (await p.clinics.all()).find((c) => c.slug === d.slug);
    const users = [
      { email: `admin@${d.slug}.demo`, role: 'clinic_admin', name: `${d.name} Admin` },
      { email: `doctor@${d.slug}.demo`, role: 'physician', name: `Dr. ${d.name.split(' ')[0]}` },
      { email: `frontdesk@${d.slug}.demo`, role: 'scheduler', name: `${d.name} Front Desk` },
    ];
    if (!clinic) {
      clinic = await createClinic(p, { name: d.name, slug: d.slug, tier: d.tier, dataRegion: d.region, specialty: d.specialty });
      for (const u of users) await p.users.createMember(clinic.id, { ...u, password: staffPassword });
      await p.stores.transaction(clinic.id, 'write', async (scope) => {
        for (const [givenName, familyName, birthDate, sex] of PATIENTS)
          await createPatient(scope, { givenName, familyName, birthDate, sex });
      });
    }
    creds.clinics.push({
      slug: d.slug,
      name: d.name,
      region: d.region,
      placement: clinic.placement.model,
      clinicId: clinic.id,
      users: users.map(({ email, role }) => ({ email, role })),
    });
  }
  writeFileSync(file, JSON.stringify(creds, null, 2), { mode: 0o600 });
  return creds;
}
