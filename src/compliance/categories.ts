/**
 * What kind of data each table holds, in the words a procurement questionnaire uses. This is the one piece of
 * the compliance report that is declared rather than read from the running system, because a table cannot say
 * what its rows mean. A table missing here is still reported (the list of tables is read from the schema), as
 * "unclassified", and a tenant table that is unclassified is reported as PHI: the safe side.
 */
export interface DataCategory {
  category: string;
  phi: boolean;
}

const PHI = (category: string): DataCategory => ({ category, phi: true });
const NOT_PHI = (category: string): DataCategory => ({ category, phi: false });

export const TENANT_CATEGORIES: Readonly<Record<string, DataCategory>> = {
  clinic: NOT_PHI('Clinic store anchor (placement bookkeeping)'),
  patients: PHI('Patient demographics and contact details'),
  outbox: PHI('Domain events awaiting scrubbing (may reference patients)'),
  outbox_relay_positions: NOT_PHI('Analytics relay position per clinic (a transaction id and an event id)'),
  providers: NOT_PHI('Provider directory'),
  availability_windows: NOT_PHI('Provider calendars'),
  availability_overrides: NOT_PHI('Provider calendars'),
  appointments: PHI('Appointments'),
  appointment_history: PHI('Appointments'),
  idempotency_keys: PHI('Request replay protection (holds responses)'),
  questionnaires: NOT_PHI('Intake questionnaires (templates)'),
  intake_responses: PHI('Intake answers'),
  encounters: PHI('Clinical encounters'),
  clinical_notes: PHI('Clinical notes'),
  clinical_note_addenda: PHI('Clinical notes'),
  vitals: PHI('Vital signs'),
  prescriptions: PHI('Prescriptions'),
  diagnoses: PHI('Diagnoses'),
  fhir_exports: PHI('FHIR bulk exports'),
  fhir_export_files: PHI('FHIR bulk exports'),
  analytics_surrogates: PHI('Analytics surrogate lookup (links surrogates to records)'),
  patient_accounts: PHI('Patient portal accounts'),
  patient_links: PHI('Patient portal accounts'),
  patient_sessions: PHI('Patient portal sessions'),
  patient_mfa: PHI('Patient second factors (sealed)'),
  patient_mfa_recovery_codes: PHI('Patient second factors (hashed)'),
  patient_mfa_challenges: PHI('Patient sign-in in progress'),
  fee_schedule: NOT_PHI('Fees per appointment type'),
  visit_charges: PHI('Visit charges (billing per appointment)'),
  visit_surveys: PHI('Patient satisfaction survey answers'),
  outcome_scores: PHI('Patient-reported outcomes (PHQ-9, GAD-7)'),
  analytics_metrics: NOT_PHI('Custom metric definitions (measure and dimension names)'),
  analytics_dashboards: NOT_PHI('Saved dashboard layouts'),
  analytics_report_schedules: NOT_PHI('Report schedules (cron, staff recipients)'),
  daily_visit_totals: NOT_PHI('Daily visit, revenue and survey totals per provider and appointment type (aggregates)'),
  daily_totals_sealed: NOT_PHI('The last UTC day whose daily visit totals are kept (a date per clinic)'),
};

export const CONTROL_CATEGORIES: Readonly<Record<string, DataCategory>> = {
  regions: NOT_PHI('Deployment topology'),
  clinics: NOT_PHI('Clinic directory and placement'),
  placement_moves: NOT_PHI('Placement move records'),
  users: NOT_PHI('Staff accounts (name, email, password hash)'),
  sessions: NOT_PHI('Staff sessions'),
  identity_audit: NOT_PHI('Identity audit (sign-ins, role and connection changes)'),
  user_mfa: NOT_PHI('Staff second factors (sealed)'),
  mfa_recovery_codes: NOT_PHI('Staff second factors (hashed)'),
  mfa_challenges: NOT_PHI('Staff sign-in in progress'),
  invitations: NOT_PHI('Staff invitations'),
  memberships: NOT_PHI('Staff memberships and roles'),
  clinic_roles: NOT_PHI('Clinic roles'),
  role_grants: NOT_PHI('Extra grants of staff'),
  setting_layers: NOT_PHI('Settings'),
  setting_history: NOT_PHI('Settings history'),
  flags: NOT_PHI('Feature flags'),
  flag_segments: NOT_PHI('Feature flags'),
  flag_clinic_choices: NOT_PHI('Feature flags'),
  flag_history: NOT_PHI('Feature flags'),
  scim_tokens: NOT_PHI('SCIM provisioning tokens (hashed)'),
  scim_users: NOT_PHI('Staff directory provisioned by SCIM'),
  scim_groups: NOT_PHI('Staff directory provisioned by SCIM'),
  scim_group_members: NOT_PHI('Staff directory provisioned by SCIM'),
  role_mappings: NOT_PHI('IdP group to role rules'),
  scim_audit: NOT_PHI('SCIM audit'),
  sso_connections: NOT_PHI('Single sign-on connections (secrets sealed)'),
  sso_domains: NOT_PHI('Single sign-on email domains'),
  sso_identities: NOT_PHI('Staff identities at clinic IdPs'),
  sso_flows: NOT_PHI('Single sign-on in progress'),
  saml_replay: NOT_PHI('Single sign-on replay protection'),
  sso_handoffs: NOT_PHI('Single sign-on in progress'),
  sso_blocked_subjects: NOT_PHI('Deprovisioned IdP subjects'),
  saml_sessions: NOT_PHI('Single sign-on sessions'),
  job_lanes: NOT_PHI('Job queue'),
  jobs: NOT_PHI('Job queue (payloads name records, not people)'),
  notification_ledger: NOT_PHI('Notification delivery ledger'),
  fhir_clients: NOT_PHI('FHIR API clients'),
  fhir_client_assertions: NOT_PHI('FHIR API replay protection'),
  benchmark_consents: NOT_PHI('Peer benchmark consent'),
  privacy_budget_ledger: NOT_PHI('Differential privacy budget'),
  benchmark_releases: NOT_PHI('Differentially private benchmark releases'),
  phi_export_requests: NOT_PHI('Break-glass export requests and decisions'),
  deletion_certificates: NOT_PHI('Deletion certificates of offboarded clinics (counts only)'),
  backups: NOT_PHI('Backup catalogue (where each region’s sealed backups are)'),
  clinic_restores: NOT_PHI('Per-clinic restore records and their verification reports (counts and checksums)'),
  clinic_version_pins: NOT_PHI('Schema version pins of clinics during rollouts'),
  rollouts: NOT_PHI('Staged schema rollouts'),
  rollout_waves: NOT_PHI('Staged schema rollouts'),
  rollout_clinics: NOT_PHI('Staged schema rollouts'),
  region_primaries: NOT_PHI('Which server is each region’s primary (failover epochs)'),
  region_failovers: NOT_PHI('Region failover history'),
  smart_apps: NOT_PHI('SMART apps registered by clinics'),
  smart_launches: NOT_PHI('SMART EHR launches in progress (opaque user, record and encounter ids, no demographics)'),
  smart_authorizations: NOT_PHI('SMART launches in progress (opaque account and record ids, no demographics)'),
  smart_grants: NOT_PHI('SMART app grants (opaque account and record ids, no demographics)'),
  smart_refresh_tokens: NOT_PHI('SMART refresh tokens (hashed)'),
  smart_signing_keys: NOT_PHI('SMART id_token signing keys (private half sealed)'),
  clinic_keys: NOT_PHI('Per-clinic data keys for sealed secrets (wrapped; destroyed at offboarding)'),
};

export function categoryOf(store: 'tenant' | 'control', table: string): DataCategory {
  const known = (store === 'tenant' ? TENANT_CATEGORIES : CONTROL_CATEGORIES)[table];
  if (known && Object.hasOwn(store === 'tenant' ? TENANT_CATEGORIES : CONTROL_CATEGORIES, table)) return known;
  return store === 'tenant' ? PHI('Unclassified clinic data (treated as PHI)') : NOT_PHI('Unclassified platform data');
}
