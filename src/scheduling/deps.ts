import type { Kysely } from 'kysely';
import type { ControlDB } from '../controlplane/schema.js';
import type { SettingsService } from '../settings/service.js';
import type { TenantStores } from '../tenancy/stores.js';

/**
 * What scheduling needs beyond a tenant transaction: the clinic's settings (booking rules, appointment types),
 * its tenant store (booking opens its own transactions around the provider lock), and the control plane (who
 * is a clinician of the clinic).
 */
export interface SchedulingDeps {
  control: Kysely<ControlDB>;
  stores: Pick<TenantStores, 'transaction'>;
  settings: Pick<SettingsService, 'effectiveFor'>;
}
