import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Platform } from '../platform/platform.js';
import { createClinic } from '../controlplane/provisioning.js';
import type { ClinicTier } from '../controlplane/schema.js';
import { createPatient } from '../patients/store.js';
import { createProvider } from '../scheduling/providers.js';
import { replaceWeekly } from '../scheduling/availability.js';
import { bookAppointment } from '../scheduling/booking.js';
import { addDays, zonedInstant } from '../scheduling/zones.js';
import { clinicLayer, regionLayer } from '../settings/service.js';
import { FlagDefinition } from '../flags/definitions.js';
import { demoLogo } from './logo.js';

export interface DemoCredentials {
  operator: { email: string; password: string };
  staffPassword: string;
  clinics: { slug: string; name: string; region: string; placement: string; clinicId: string; users: { email: string; role: string }[] }[];
  /** The demo patient: signs in to Maple Family Practice's patient portal with the staff password. */
  patient?: { clinicSlug: string; email: string; portal: string };
}

type Look = { color: string; text: string; mark: 'cross' | 'leaf' | 'wave' };
const FLEET: { slug: string; name: string; tier: ClinicTier; region: string; specialty: string; look?: Look }[] = [
  {
    slug: 'maple-family',
    name: 'Maple Family Practice',
    tier: 'small',
    region: 'us-east',
    specialty: 'family-medicine',
    look: { color: '#2f6f4f', text: '#ffffff', mark: 'leaf' },
  },
  { slug: 'hudson-urgent', name: 'Hudson Urgent Care', tier: 'mid', region: 'us-east', specialty: 'urgent-care' },
  {
    slug: 'atlantic-health',
    name: 'Atlantic Health Network',
    tier: 'enterprise',
    region: 'us-east',
    specialty: 'multi-specialty',
    look: { color: '#0b5394', text: '#ffffff', mark: 'cross' },
  },
  {
    slug: 'praxis-lindenhof',
    name: 'Praxis Lindenhof',
    tier: 'small',
    region: 'eu-central',
    specialty: 'general-practice',
    look: { color: '#1c4e80', text: '#ffffff', mark: 'leaf' },
  },
  {
    slug: 'rhein-mental',
    name: 'Rhein Mental Health',
    tier: 'mid',
    region: 'eu-central',
    specialty: 'mental-health',
    look: { color: '#7b2cbf', text: '#ffffff', mark: 'wave' },
  },
  { slug: 'alpen-klinikum', name: 'Alpen Klinikum', tier: 'enterprise', region: 'eu-central', specialty: 'multi-specialty' },
];
const ZONES: Record<string, { zone: string; licence: string }> = {
  'us-east': { zone: 'America/New_York', licence: 'US-NY' },
  'eu-central': { zone: 'Europe/Berlin', licence: 'DE' },
};

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
  const operator = p.config.operator ??
    saved.operator ?? { email: 'operator@polyclinic.local', password: randomBytes(9).toString('base64url') };
  const staffPassword = saved.staffPassword ?? randomBytes(9).toString('base64url');
  await p.users.ensureOperator(operator.email, operator.password);

  const creds: DemoCredentials = { operator, staffPassword, clinics: [], ...(saved.patient ? { patient: saved.patient } : {}) };
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
      const created = [];
      for (const u of users) created.push(await p.users.createMember(clinic.id, { ...u, password: staffPassword }));
      const firstPatient = await seedWorkday(p, clinic.id, d, created[1]!.id);
      if (d.slug === PORTAL_CLINIC) creds.patient = await seedPortal(p, clinic.id, d.slug, firstPatient, staffPassword);
      if (d.look)
        await p.settings.write(
          clinicLayer(clinic.id),
          'branding',
          {
            values: { logo: demoLogo(d.look.color, d.look.mark), primaryColor: d.look.color, onPrimaryColor: d.look.text },
            expectedVersion: 0,
            reason: 'demo clinic look',
          },
          null,
        );
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
  await seedPlatform(p);
  writeFileSync(file, JSON.stringify(creds, null, 2), { mode: 0o600 });
  return creds;
}

/**
 * A working day to look at: the physician is a provider with weekday hours, the demo patients, and
 * appointments today and tomorrow. They are booked through the booking rules with the clock set to the day
 * before, so today's early slots are still bookable.
 */
async function seedWorkday(p: Platform, clinicId: string, d: (typeof FLEET)[number], doctorId: string): Promise<string> {
  const { zone, licence } = ZONES[d.region] ?? { zone: 'UTC', licence: 'US-NY' };
  const { patients, providerId } = await p.stores.transaction(clinicId, 'write', async (scope) => {
    const patients = [];
    for (const [givenName, familyName, birthDate, sex] of PATIENTS)
      patients.push(await createPatient(scope, { givenName, familyName, birthDate, sex }));
    const provider = await createProvider(p, scope, {
      userId: doctorId,
      specialty: d.specialty,
      licenceJurisdictions: [licence],
      timeZone: zone,
    });
    const weekdays = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday'] as const;
    await replaceWeekly(scope, provider.id, {
      windows: weekdays.flatMap((weekday) => [
        { weekday, start: '08:00', end: '12:00' },
        { weekday, start: '13:00', end: '17:00' },
      ]),
    });
    return { patients, providerId: provider.id };
  });
  const today = new Intl.DateTimeFormat('en-CA', { timeZone: zone }).format(new Date());
  const yesterday = zonedInstant(addDays(today, -1), 0, zone);
  const plan: [number, number, string][] = [
    [0, 9 * 60, 'consultation'],
    [0, 10 * 60 + 30, 'follow-up'],
    [0, 11 * 60, 'consultation'],
    [0, 14 * 60, 'consultation'],
    [0, 15 * 60 + 30, 'follow-up'],
    [1, 9 * 60 + 30, 'consultation'],
    [1, 13 * 60 + 30, 'follow-up'],
  ];
  for (const [i, [day, minutes, type]] of plan.entries()) {
    const startsAt = new Date(zonedInstant(addDays(today, day), minutes, zone)).toISOString();
    const patient = patients[i % patients.length]!;
    // A weekend day has no hours: those bookings are refused, and the demo simply has fewer of them.
    await bookAppointment(
      p,
      clinicId,
      { patientId: patient.id, providerId, appointmentType: type, startsAt, timeZone: zone },
      `demo-${clinicId}-${i}`,
      null,
      yesterday,
    ).catch(() => {});
  }
  return patients[0]!.id;
}

/** The clinic whose patient portal the demo opens: consultations bookable online, registration open, one patient account. */
const PORTAL_CLINIC = 'maple-family';

async function seedPortal(p: Platform, clinicId: string, slug: string, patientId: string, password: string) {
  const types = (await p.settings.effectiveFor(clinicId)).scheduling.appointmentTypes.map((t) => ({
    ...t,
    bookableOnline: t.modality === 'video',
  }));
  await p.settings.write(
    clinicLayer(clinicId),
    'scheduling',
    { values: { appointmentTypes: types }, expectedVersion: 0, reason: 'demo: video visits bookable online' },
    null,
  );
  await p.settings.write(
    clinicLayer(clinicId),
    'portal',
    { values: { selfRegistration: true }, expectedVersion: 0, reason: 'demo: patients may register' },
    null,
  );
  const email = `ada@${slug}.demo`;
  await p.patientAccounts.openAccount(clinicId, patientId, email, password);
  return { clinicSlug: slug, email, portal: `${p.config.webAppUrl}/c/${slug}/portal/sign-in` };
}

/** The fleet-wide parts of the demo: European clinics speak German by default, and video visits are on. */
async function seedPlatform(p: Platform): Promise<void> {
  if (p.config.regions.some((r) => r.id === 'eu-central') && (await p.settings.getLayer(regionLayer('eu-central'), 'locale')).version === 0)
    await p.settings.write(
      regionLayer('eu-central'),
      'locale',
      { values: { defaultLanguage: 'de' }, expectedVersion: 0, reason: 'demo: German first in the EU region' },
      null,
    );
  if (!(await p.flags.list()).some((f) => f.name === 'video-visits'))
    await p.flags.create(
      'video-visits',
      FlagDefinition.parse({
        owner: 'team-visits',
        type: 'release',
        description: 'Video visits, the waiting room, and their settings page',
        enabled: true,
        strategies: [{ name: 'flexibleRollout', parameters: { rollout: '100', stickiness: 'clinicId', groupId: 'video-visits' } }],
      }),
      'demo: video visits for every clinic',
      null,
    );
}
