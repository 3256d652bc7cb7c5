import type { Kysely, Selectable } from 'kysely';
import type { Logger } from 'pino';
import type { ClinicDirectory } from '../controlplane/clinics.js';
import type { ControlDB } from '../controlplane/schema.js';
import type { SettingScope } from './control-schema.js';
import { AppError, notFound } from '../errors.js';
import { ClinicCache, clinicKey } from '../fleet/clinic-cache.js';
import type { InvalidationBus } from '../platform/bus.js';
import { NAMESPACES, NAMESPACE_NAMES, defaults, type EffectiveSettings, type Namespace } from './namespaces.js';

/** Where a layer lives: the platform, a region, a clinic, or one provider of a clinic. */
export interface LayerAddress {
  scope: SettingScope;
  /** '' for the platform, the region id, the clinic id, or '<clinicId>/<providerId>'. */
  scopeId: string;
  clinicId: string | null;
}

export interface LayerDoc {
  values: Record<string, unknown>;
  /** platform/region: keys the layers below may not set. */
  locked: string[];
  /** clinic: keys its providers may set. */
  providerOverridable: string[];
  version: number;
  updatedBy: string | null;
  updatedAt: string | null;
}

export interface LayerWrite {
  values: Record<string, unknown>;
  locked?: string[] | undefined;
  providerOverridable?: string[] | undefined;
  expectedVersion: number;
  reason: string;
}

export interface ExplainedValue {
  value: unknown;
  source: 'default' | SettingScope;
  /** Lower layers that also set this key and are hidden by `source`. */
  overrides: ('default' | SettingScope)[];
}

const EMPTY: LayerDoc = { values: {}, locked: [], providerOverridable: [], version: 0, updatedBy: null, updatedAt: null };
const ORDER: SettingScope[] = ['platform', 'region', 'clinic', 'provider'];
const keyOf = (a: LayerAddress, ns: string) => `${a.scope}|${a.scopeId}|${ns}`;

export const platformLayer = (): LayerAddress => ({ scope: 'platform', scopeId: '', clinicId: null });
export const regionLayer = (regionId: string): LayerAddress => ({ scope: 'region', scopeId: regionId, clinicId: null });
export const clinicLayer = (clinicId: string): LayerAddress => ({ scope: 'clinic', scopeId: clinicId, clinicId });
export const providerLayer = (clinicId: string, providerId: string): LayerAddress => ({
  scope: 'provider',
  scopeId: `${clinicId}/${providerId}`,
  clinicId,
});

/**
 * Layered, typed settings: code default -> platform -> region -> clinic -> provider. The nearest layer that
 * sets a key wins, whole values (an appointment-type list is replaced, not merged). Every node answers from an
 * in-memory snapshot of all layers; a write goes to the control plane with check-and-set on the layer's
 * version, records the full before/after with actor and reason, and is broadcast on the bus so every node
 * reloads that one layer.
 */
export class SettingsService {
  private readonly layers = new Map<string, LayerDoc>();
  /**
   * What each clinic (and provider) runs with, derived from the layers: bounded and keyed by clinic, so a fleet of
   * many clinics cannot grow it without limit. Cleared whenever a layer reloads (a platform or region layer
   * changes every clinic's values); the TTL only bounds how long a lost bus message could leave a value stale.
   */
  private readonly effectiveCache: ClinicCache<EffectiveSettings>;
  private readonly unsubscribe: () => void;
  private readonly unsubscribeReconnect: () => void;

  constructor(
    private readonly db: Kysely<ControlDB>,
    private readonly bus: InvalidationBus,
    private readonly clinics: ClinicDirectory,
    private readonly log: Logger,
  ) {
    this.effectiveCache = new ClinicCache('settings-effective', bus, { max: 10_000, ttlMs: 10 * 60_000 });
    this.unsubscribe = bus.subscribe('settings', (key) => void this.reload(key));
    this.unsubscribeReconnect = bus.onReconnect(() => void this.load());
  }

  private loading: Promise<void> | undefined;

  /** The snapshot is loaded on first use (the tables exist only after the control plane is migrated). */
  ready(): Promise<void> {
    this.loading ??= this.load().catch((err: unknown) => {
      this.loading = undefined;
      throw err;
    });
    return this.loading;
  }

  /** Loads every layer into the snapshot (first use, and after the bus reconnects). */
  async load(): Promise<void> {
    const rows = await this.db.selectFrom('setting_layers').selectAll().execute();
    this.layers.clear();
    for (const r of rows) this.layers.set(`${r.scope}|${r.scope_id}|${r.namespace}`, toDoc(r));
    this.effectiveCache.clear();
  }

  private async reload(key: string): Promise<void> {
    const [scope, scopeId, ns] = key.split('|') as [SettingScope, string, string];
    const row = await this.db
      .selectFrom('setting_layers')
      .selectAll()
      .where('scope', '=', scope)
      .where('scope_id', '=', scopeId)
      .where('namespace', '=', ns)
      .executeTakeFirst();
    if (row) this.layers.set(key, toDoc(row));
    else this.layers.delete(key);
    this.effectiveCache.clear();
  }

  /** A layer's own document (version 0 and empty when it has never been written). */
  async getLayer(address: LayerAddress, namespace: string): Promise<LayerDoc> {
    await this.ready();
    return this.layer(address, this.namespace(namespace));
  }

  private layer(address: LayerAddress, namespace: Namespace): LayerDoc {
    return this.layers.get(keyOf(address, namespace)) ?? EMPTY;
  }

  /** The typed values a clinic (and, when given, one of its providers) runs with. */
  async effectiveFor(clinicId: string, providerId?: string): Promise<EffectiveSettings> {
    return this.effectiveCache.get(clinicKey(clinicId, 'effective', providerId ?? '-'), async () => {
      await this.ready();
      const chain = await this.chain(clinicId, providerId);
      const result = defaults();
      for (const ns of NAMESPACE_NAMES) {
        const merged: Record<string, unknown> = {};
        for (const a of chain) Object.assign(merged, this.layer(a, ns).values);
        (result as unknown as Record<string, unknown>)[ns] = this.parseLenient(ns, merged, clinicId);
      }
      return result;
    });
  }

  /** Every key with its value, the layer it came from and the layers it overrides. */
  async explain(clinicId: string, providerId?: string): Promise<Record<Namespace, Record<string, ExplainedValue>>> {
    await this.ready();
    const chain = await this.chain(clinicId, providerId);
    const effective = await this.effectiveFor(clinicId, providerId);
    const out = {} as Record<Namespace, Record<string, ExplainedValue>>;
    for (const ns of NAMESPACE_NAMES) {
      out[ns] = {};
      for (const key of Object.keys(NAMESPACES[ns].shape)) {
        const setters = chain.filter((a) => key in this.layer(a, ns).values).map((a) => a.scope);
        const source = setters.at(-1) ?? 'default';
        out[ns][key] = {
          value: (effective[ns] as Record<string, unknown>)[key],
          source,
          overrides: source === 'default' ? [] : ['default', ...setters.slice(0, -1)],
        };
      }
    }
    return out;
  }

  async write(
    address: LayerAddress,
    namespace: string,
    input: LayerWrite,
    actorId: string | null,
    restoredFrom: number | null = null,
  ): Promise<LayerDoc> {
    const ns = this.namespace(namespace);
    await this.ready();
    await this.validate(address, ns, input);
    const key = keyOf(address, ns);
    const doc = await this.db.transaction().execute(async (trx) => {
      const current = await trx
        .selectFrom('setting_layers')
        .selectAll()
        .where('scope', '=', address.scope)
        .where('scope_id', '=', address.scopeId)
        .where('namespace', '=', ns)
        .forUpdate()
        .executeTakeFirst();
      const before = current ? toDoc(current) : null;
      const currentVersion = before?.version ?? 0;
      if (currentVersion !== input.expectedVersion)
        throw new AppError(
          409,
          'version_conflict',
          `${ns} was changed since version ${input.expectedVersion} (now ${currentVersion}); reload and retry`,
          {
            currentVersion,
          },
        );
      const next = {
        values: input.values,
        locked: input.locked ?? before?.locked ?? [],
        providerOverridable: input.providerOverridable ?? before?.providerOverridable ?? [],
        version: currentVersion + 1,
      };
      const row = await trx
        .insertInto('setting_layers')
        .values({
          scope: address.scope,
          scope_id: address.scopeId,
          namespace: ns,
          clinic_id: address.clinicId,
          values: JSON.stringify(next.values),
          locked: next.locked,
          provider_overridable: next.providerOverridable,
          version: next.version,
          updated_by: actorId,
          updated_at: new Date(),
        })
        .onConflict((oc) =>
          oc.columns(['scope', 'scope_id', 'namespace']).doUpdateSet({
            values: JSON.stringify(next.values),
            locked: next.locked,
            provider_overridable: next.providerOverridable,
            version: next.version,
            updated_by: actorId,
            updated_at: new Date(),
          }),
        )
        .returningAll()
        .executeTakeFirstOrThrow();
      const after = toDoc(row);
      await trx
        .insertInto('setting_history')
        .values({
          scope: address.scope,
          scope_id: address.scopeId,
          namespace: ns,
          version: after.version,
          before: before ? JSON.stringify(auditView(before)) : null,
          after: JSON.stringify(auditView(after)),
          actor_id: actorId,
          reason: input.reason,
          restored_from: restoredFrom,
        })
        .execute();
      return after;
    });
    this.layers.set(key, doc);
    this.effectiveCache.clear();
    await this.bus.publish('settings', key);
    this.log.info({ scope: address.scope, scopeId: address.scopeId, namespace: ns, version: doc.version, actorId }, 'settings written');
    return doc;
  }

  async history(address: LayerAddress, namespace: string) {
    const ns = this.namespace(namespace);
    const rows = await this.db
      .selectFrom('setting_history')
      .selectAll()
      .where('scope', '=', address.scope)
      .where('scope_id', '=', address.scopeId)
      .where('namespace', '=', ns)
      .orderBy('version', 'desc')
      .execute();
    return rows.map((r) => ({
      version: r.version,
      before: r.before,
      after: r.after,
      actorId: r.actor_id,
      reason: r.reason,
      restoredFrom: r.restored_from,
      at: r.at.toISOString(),
    }));
  }

  /** Writes an earlier version's content as a new version (validated against today's rules). */
  async restore(
    address: LayerAddress,
    namespace: string,
    version: number,
    expectedVersion: number,
    reason: string,
    actorId: string | null,
  ): Promise<LayerDoc> {
    const ns = this.namespace(namespace);
    const row = await this.db
      .selectFrom('setting_history')
      .select(['after'])
      .where('scope', '=', address.scope)
      .where('scope_id', '=', address.scopeId)
      .where('namespace', '=', ns)
      .where('version', '=', version)
      .executeTakeFirst();
    if (!row) throw notFound('settings_version', 'version_not_found');
    const old = row.after as { values: Record<string, unknown>; locked: string[]; providerOverridable: string[] };
    return this.write(
      address,
      ns,
      { values: old.values, locked: old.locked, providerOverridable: old.providerOverridable, expectedVersion, reason },
      actorId,
      version,
    );
  }

  private namespace(name: string): Namespace {
    if (!(NAMESPACE_NAMES as string[]).includes(name))
      throw new AppError(404, 'unknown_namespace', `There is no settings namespace "${name}"`);
    return name as Namespace;
  }

  private async chain(clinicId: string, providerId?: string): Promise<LayerAddress[]> {
    const clinic = await this.clinics.get(clinicId);
    if (!clinic) throw notFound('clinic');
    const chain = [platformLayer(), regionLayer(clinic.dataRegion), clinicLayer(clinicId)];
    if (providerId) chain.push(providerLayer(clinicId, providerId));
    return chain;
  }

  /** Checks a layer write: known keys, each value within its bounds, locks, provider permissions, the merged result. */
  private async validate(address: LayerAddress, ns: Namespace, input: LayerWrite): Promise<void> {
    const shape = NAMESPACES[ns].shape as Record<
      string,
      { safeParse(v: unknown): { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] } } }
    >;
    const errors: { path: string; message: string }[] = [];
    for (const [key, value] of Object.entries(input.values)) {
      const schema = shape[key];
      if (!schema) {
        errors.push({ path: `${ns}.${key}`, message: 'is not a setting of this namespace' });
        continue;
      }
      const r = schema.safeParse(value);
      if (!r.success)
        for (const issue of r.error?.issues ?? [])
          errors.push({ path: [ns, key, ...issue.path.map(String)].join('.'), message: issue.message });
    }
    for (const list of [input.locked ?? [], input.providerOverridable ?? []])
      for (const key of list) if (!shape[key]) errors.push({ path: `${ns}.${key}`, message: 'is not a setting of this namespace' });
    if (input.locked?.length && address.scope !== 'platform' && address.scope !== 'region')
      errors.push({ path: 'locked', message: 'only the platform and region layers can lock keys' });
    if (input.providerOverridable?.length && address.scope !== 'clinic')
      errors.push({ path: 'providerOverridable', message: 'only the clinic layer chooses what providers may override' });
    if (errors.length) throw new AppError(400, 'invalid_setting', errors.map((e) => `${e.path} ${e.message}`).join('; '), { errors });

    const above = address.clinicId ? await this.chain(address.clinicId) : address.scope === 'region' ? [platformLayer()] : [];
    const upper = above.filter((a) => ORDER.indexOf(a.scope) < ORDER.indexOf(address.scope));
    for (const key of Object.keys(input.values)) {
      const lockedBy = upper.find((a) => this.layer(a, ns).locked.includes(key));
      if (lockedBy)
        throw new AppError(403, 'setting_locked', `${ns}.${key} is locked at the ${lockedBy.scope} layer`, { key: `${ns}.${key}` });
      if (
        address.scope === 'provider' &&
        address.clinicId &&
        !this.layer(clinicLayer(address.clinicId), ns).providerOverridable.includes(key)
      )
        throw new AppError(403, 'setting_not_overridable', `${ns}.${key} is not one the clinic lets providers override`, {
          key: `${ns}.${key}`,
        });
    }
    // The merged result at this layer must itself be valid (rules that span keys).
    const merged: Record<string, unknown> = {};
    for (const a of upper) Object.assign(merged, this.layer(a, ns).values);
    Object.assign(merged, input.values);
    const r = NAMESPACES[ns].safeParse(merged);
    if (!r.success) {
      const merging = r.error.issues.map((i) => ({ path: [ns, ...i.path.map(String)].join('.'), message: i.message }));
      throw new AppError(400, 'invalid_setting', merging.map((e) => `${e.path} ${e.message}`).join('; '), { errors: merging });
    }
  }

  /**
   * The problems a write of these values to this layer would meet, without writing: the same checks as
   * `write`, returned instead of thrown, so a settings form can show the API's own messages as it is filled in.
   */
  async check(address: LayerAddress, namespace: string, values: Record<string, unknown>): Promise<{ path: string; message: string }[]> {
    const ns = this.namespace(namespace);
    await this.ready();
    try {
      await this.validate(address, ns, { values, expectedVersion: 0, reason: 'check' });
      return [];
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      const listed = err.extra.errors as { path: string; message: string }[] | undefined;
      if (listed?.length) return listed;
      const key = typeof err.extra.key === 'string' ? err.extra.key : ns;
      return [{ path: key, message: err.message }];
    }
  }

  /** Parses merged values; a stored key that today's rules refuse falls back to its default (and is logged). */
  private parseLenient(ns: Namespace, merged: Record<string, unknown>, clinicId: string): unknown {
    const schema = NAMESPACES[ns];
    const r = schema.safeParse(merged);
    if (r.success) return r.data;
    const bad = new Set(r.error.issues.map((i) => String(i.path[0])));
    this.log.warn({ clinicId, namespace: ns, keys: [...bad] }, 'stored settings no longer valid; using defaults for those keys');
    // A rule across keys (a colour pair) can still fail with one side back at its default: then the whole
    // namespace falls back, rather than the clinic's requests failing.
    const kept = schema.safeParse(Object.fromEntries(Object.entries(merged).filter(([k]) => !bad.has(k))));
    return kept.success ? kept.data : schema.parse({});
  }

  close(): void {
    this.unsubscribe();
    this.unsubscribeReconnect();
    this.effectiveCache.close();
  }
}

function toDoc(r: Selectable<ControlDB['setting_layers']>): LayerDoc {
  return {
    values: r.values,
    locked: r.locked,
    providerOverridable: r.provider_overridable,
    version: r.version,
    updatedBy: r.updated_by,
    updatedAt: r.updated_at.toISOString(),
  };
}

function auditView(d: LayerDoc) {
  return { values: d.values, locked: d.locked, providerOverridable: d.providerOverridable, version: d.version };
}
