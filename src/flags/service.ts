import type { Kysely, Selectable } from 'kysely';
import type { Logger } from 'pino';
import type { Clinic } from '../controlplane/clinics.js';
import type { ControlDB } from '../controlplane/schema.js';
import { AppError, conflict, notFound } from '../errors.js';
import type { InvalidationBus } from '../platform/bus.js';
import { FlagDefinition } from './definitions.js';
import { FlagEngine } from './engine.js';
import { isStale, retireDate, type FlagType } from './lifecycle.js';
import type { FeatureDefinition, SegmentDefinition, UnleashContext, VariantResult } from './types.js';

export interface Flag extends FlagDefinition {
  name: string;
  version: number;
  createdAt: string;
  updatedAt: string;
  updatedBy: string | null;
}

/** Who is asking, as the server knows it from the session: never from what the client says. */
export interface FlagSubject {
  clinic: Pick<Clinic, 'id' | 'dataRegion' | 'tier' | 'specialty'>;
  userId: string | null;
  role: string | null;
  remoteAddress?: string | undefined;
}

export interface FeatureState {
  name: string;
  enabled: boolean;
  variant: VariantResult;
  reason: string;
}

interface Snapshot {
  engine: FlagEngine;
  flags: Map<string, Flag>;
  /** clinicId -> flag -> the clinic's own choice. */
  choices: Map<string, Map<string, { enabled: boolean; version: number }>>;
  segments: SegmentDefinition[];
  /** Per flag, one single-strategy engine per strategy: built on the first explanation, kept with the snapshot. */
  explainers: Map<string, FlagEngine[]>;
}

/**
 * Feature flags for the fleet. Definitions live in the control plane; every node evaluates from an immutable
 * in-memory snapshot (a compiled `FlagEngine`) that is rebuilt when the bus says a flag changed, so an
 * evaluation costs no I/O and a kill switch reaches every node within a second.
 *
 * Order of evaluation: the kill switch (`enabled: false`) wins over everything; then a clinic's own choice,
 * for flags the platform lets clinics control; then Unleash strategies over a context filled from the session.
 */
export class FlagService {
  private snapshot: Snapshot | undefined;
  private loading: Promise<void> | undefined;
  private readonly unsubscribe: () => void;
  private readonly unsubscribeReconnect: () => void;

  constructor(
    private readonly db: Kysely<ControlDB>,
    private readonly bus: InvalidationBus,
    private readonly log: Logger,
  ) {
    this.unsubscribe = bus.subscribe('flags', () => void this.reload());
    this.unsubscribeReconnect = bus.onReconnect(() => void this.reload());
  }

  ready(): Promise<void> {
    this.loading ??= this.reload().catch((err: unknown) => {
      this.loading = undefined;
      throw err;
    });
    return this.loading;
  }

  /** Rebuilds the snapshot from the control plane. Flags are few (hundreds); a full rebuild keeps it simple. */
  async reload(): Promise<void> {
    const [flagRows, segmentRows, choiceRows] = await Promise.all([
      this.db.selectFrom('flags').selectAll().execute(),
      this.db.selectFrom('flag_segments').selectAll().execute(),
      this.db.selectFrom('flag_clinic_choices').selectAll().execute(),
    ]);
    const flags = new Map(flagRows.map((r) => [r.name, toFlag(r)]));
    const segments = segmentRows.map((s) => ({ id: s.id, name: s.name, constraints: s.constraints as SegmentDefinition['constraints'] }));
    const choices = new Map<string, Map<string, { enabled: boolean; version: number }>>();
    for (const c of choiceRows) {
      let m = choices.get(c.clinic_id);
      if (!m) choices.set(c.clinic_id, (m = new Map()));
      m.set(c.flag_name, { enabled: c.enabled, version: c.version });
    }
    this.snapshot = {
      engine: new FlagEngine({ features: [...flags.values()].map(toUnleash), segments }),
      flags,
      choices,
      segments,
      explainers: new Map(),
    };
  }

  private async current(): Promise<Snapshot> {
    await this.ready();
    return this.snapshot!;
  }

  static context(subject: FlagSubject): UnleashContext {
    return {
      userId: subject.userId ?? undefined,
      remoteAddress: subject.remoteAddress,
      environment: 'production',
      appName: 'polyclinic',
      currentTime: new Date(),
      clinicId: subject.clinic.id,
      region: subject.clinic.dataRegion,
      tier: subject.clinic.tier,
      specialty: subject.clinic.specialty ?? undefined,
      role: subject.role ?? undefined,
    };
  }

  async isEnabled(name: string, subject: FlagSubject): Promise<boolean> {
    const s = await this.current();
    return evaluate(s, name, subject, FlagService.context(subject)).enabled;
  }

  async getVariant(name: string, subject: FlagSubject): Promise<VariantResult> {
    const s = await this.current();
    return evaluate(s, name, subject, FlagService.context(subject)).variant;
  }

  /** One flag as this subject sees it, and why. */
  async evaluate(name: string, subject: FlagSubject): Promise<FeatureState> {
    return evaluate(await this.current(), name, subject, FlagService.context(subject));
  }

  /** Every flag as this subject sees it, and why. */
  async features(subject: FlagSubject): Promise<FeatureState[]> {
    const s = await this.current();
    const ctx = FlagService.context(subject);
    return [...s.flags.keys()].sort().map((name) => evaluate(s, name, subject, ctx));
  }

  /** What a clinic may choose itself: per flag, whether it may, and its current choice with the version to write against. */
  async clinicChoices(clinicId: string): Promise<Map<string, { controllable: boolean; enabled: boolean | null; version: number }>> {
    const s = await this.current();
    const mine = s.choices.get(clinicId);
    return new Map(
      [...s.flags.values()].map((f) => {
        const c = mine?.get(f.name);
        return [f.name, { controllable: f.clinicControllable, enabled: c?.enabled ?? null, version: c?.version ?? 0 }];
      }),
    );
  }

  async list(): Promise<(Flag & { retireDate: string | null; stale: boolean })[]> {
    const s = await this.current();
    return [...s.flags.values()]
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((f) => ({ ...f, retireDate: retireDate(facts(f)), stale: isStale(facts(f)) }));
  }

  async stale(today = new Date()): Promise<(Flag & { retireDate: string | null })[]> {
    return (await this.list()).filter((f) => isStale(facts(f), today));
  }

  async get(name: string): Promise<Flag> {
    const f = (await this.current()).flags.get(name);
    if (!f) throw notFound('flag');
    return f;
  }

  async create(name: string, definition: FlagDefinition, reason: string, actorId: string | null): Promise<Flag> {
    await this.checkDependencies(name, definition);
    const row = await this.db.transaction().execute(async (trx) => {
      const inserted = await trx
        .insertInto('flags')
        .values({ name, ...columns(definition), version: 1, updated_by: actorId })
        .onConflict((oc) => oc.column('name').doNothing())
        .returningAll()
        .executeTakeFirst();
      if (!inserted) throw conflict('flag_exists', `A flag named ${name} already exists`);
      await trx
        .insertInto('flag_history')
        .values({
          flag_name: name,
          scope: 'platform',
          version: 1,
          before: null,
          after: JSON.stringify(toFlag(inserted)),
          actor_id: actorId,
          reason,
        })
        .execute();
      return inserted;
    });
    await this.changed();
    return toFlag(row);
  }

  /** Replaces a flag's definition if nobody changed it since `expectedVersion`. */
  async update(
    name: string,
    definition: FlagDefinition,
    expectedVersion: number,
    reason: string,
    actorId: string | null,
    restoredFrom: number | null = null,
  ): Promise<Flag> {
    await this.checkDependencies(name, definition);
    const row = await this.db.transaction().execute(async (trx) => {
      const before = await trx.selectFrom('flags').selectAll().where('name', '=', name).forUpdate().executeTakeFirst();
      if (!before) throw notFound('flag');
      if (before.version !== expectedVersion)
        throw new AppError(
          409,
          'version_conflict',
          `${name} was changed since version ${expectedVersion} (now ${before.version}); reload and retry`,
          { currentVersion: before.version },
        );
      const after = await trx
        .updateTable('flags')
        .set({ ...columns(definition), version: before.version + 1, updated_at: new Date(), updated_by: actorId })
        .where('name', '=', name)
        .returningAll()
        .executeTakeFirstOrThrow();
      await trx
        .insertInto('flag_history')
        .values({
          flag_name: name,
          scope: 'platform',
          version: after.version,
          before: JSON.stringify(toFlag(before)),
          after: JSON.stringify(toFlag(after)),
          actor_id: actorId,
          reason,
          restored_from: restoredFrom,
        })
        .execute();
      return after;
    });
    await this.changed();
    this.log.info({ flag: name, version: row.version, enabled: row.enabled, actorId }, 'flag changed');
    return toFlag(row);
  }

  /** The kill switch (or its release): one field, still versioned and audited. */
  async setEnabled(name: string, enabled: boolean, reason: string, actorId: string | null): Promise<Flag> {
    const f = await this.fresh(name);
    const { name: _n, version, createdAt: _c, updatedAt: _u, updatedBy: _b, ...definition } = f;
    return this.update(name, { ...definition, enabled }, version, reason, actorId);
  }

  async restore(name: string, version: number, expectedVersion: number, reason: string, actorId: string | null): Promise<Flag> {
    const old = await this.db
      .selectFrom('flag_history')
      .select('after')
      .where('flag_name', '=', name)
      .where('scope', '=', 'platform')
      .where('version', '=', version)
      .executeTakeFirst();
    if (!old?.after) throw notFound('flag_version', 'version_not_found');
    const definition = FlagDefinition.parse(stripMeta(old.after as Flag));
    return this.update(name, definition, expectedVersion, reason, actorId, version);
  }

  async history(name: string, scope = 'platform') {
    const rows = await this.db
      .selectFrom('flag_history')
      .selectAll()
      .where('flag_name', '=', name)
      .where('scope', '=', scope)
      .orderBy('version', 'desc')
      .execute();
    return rows.map((r) => ({
      version: r.version,
      scope: r.scope,
      before: r.before,
      after: r.after,
      actorId: r.actor_id,
      reason: r.reason,
      restoredFrom: r.restored_from,
      at: r.at.toISOString(),
    }));
  }

  /** A clinic's own on/off for a flag the platform lets clinics control; `null` clears it. */
  async setClinicChoice(
    clinicId: string,
    name: string,
    enabled: boolean | null,
    expectedVersion: number,
    reason: string,
    actorId: string | null,
  ) {
    const flag = await this.fresh(name);
    if (!flag.clinicControllable) throw new AppError(403, 'flag_not_clinic_controllable', `${name} is managed by the platform`);
    const result = await this.db.transaction().execute(async (trx) => {
      const before = await trx
        .selectFrom('flag_clinic_choices')
        .selectAll()
        .where('clinic_id', '=', clinicId)
        .where('flag_name', '=', name)
        .forUpdate()
        .executeTakeFirst();
      const currentVersion = before?.version ?? 0;
      if (currentVersion !== expectedVersion)
        throw new AppError(
          409,
          'version_conflict',
          `The clinic's choice for ${name} changed since version ${expectedVersion} (now ${currentVersion})`,
          { currentVersion },
        );
      const version = currentVersion + 1;
      if (enabled === null)
        await trx.deleteFrom('flag_clinic_choices').where('clinic_id', '=', clinicId).where('flag_name', '=', name).execute();
      else
        await trx
          .insertInto('flag_clinic_choices')
          .values({ clinic_id: clinicId, flag_name: name, enabled, version, updated_by: actorId })
          .onConflict((oc) =>
            oc.columns(['clinic_id', 'flag_name']).doUpdateSet({ enabled, version, updated_by: actorId, updated_at: new Date() }),
          )
          .execute();
      await trx
        .insertInto('flag_history')
        .values({
          flag_name: name,
          scope: clinicId,
          version,
          before: before ? JSON.stringify({ enabled: before.enabled }) : null,
          after: JSON.stringify(enabled === null ? null : { enabled }),
          actor_id: actorId,
          reason,
        })
        .execute();
      return { enabled, version };
    });
    await this.changed();
    return result;
  }

  async upsertSegment(name: string, constraints: unknown[]): Promise<{ id: number; name: string }> {
    const row = await this.db
      .insertInto('flag_segments')
      .values({ name, constraints: JSON.stringify(constraints) })
      .onConflict((oc) => oc.column('name').doUpdateSet({ constraints: JSON.stringify(constraints), updated_at: new Date() }))
      .returning(['id', 'name'])
      .executeTakeFirstOrThrow();
    await this.changed();
    return row;
  }

  async segments(): Promise<SegmentDefinition[]> {
    return (await this.current()).segments;
  }

  private async fresh(name: string): Promise<Flag> {
    const row = await this.db.selectFrom('flags').selectAll().where('name', '=', name).executeTakeFirst();
    if (!row) throw notFound('flag');
    return toFlag(row);
  }

  private async checkDependencies(name: string, d: FlagDefinition): Promise<void> {
    for (const dep of d.dependencies) {
      if (dep.feature === name) throw new AppError(400, 'invalid_flag', 'A flag cannot depend on itself');
      const parent = await this.db.selectFrom('flags').select(['name', 'dependencies']).where('name', '=', dep.feature).executeTakeFirst();
      if (!parent) throw new AppError(400, 'invalid_flag', `Dependency ${dep.feature} does not exist`);
      if ((parent.dependencies as unknown[]).length)
        throw new AppError(400, 'invalid_flag', `Dependency ${dep.feature} has dependencies itself; only one level is allowed`);
    }
  }

  /** This node rebuilds at once; the others when the bus tells them. */
  private async changed(): Promise<void> {
    await this.reload();
    await this.bus.publish('flags', '*');
  }

  close(): void {
    this.unsubscribe();
    this.unsubscribeReconnect();
  }
}

function evaluate(s: Snapshot, name: string, subject: FlagSubject, ctx: UnleashContext): FeatureState {
  const flag = s.flags.get(name);
  const off = (reason: string): FeatureState => ({
    name,
    enabled: false,
    variant: { name: 'disabled', enabled: false, feature_enabled: false },
    reason,
  });
  if (!flag) return off('unknown flag');
  if (!flag.enabled) return off('kill switch: off for the whole platform');
  const choice = flag.clinicControllable ? s.choices.get(subject.clinic.id)?.get(name) : undefined;
  if (choice) {
    const variant = choice.enabled ? s.engine.getVariant(name, ctx) : { name: 'disabled', enabled: false, feature_enabled: false };
    return { name, enabled: choice.enabled, variant, reason: `clinic choice: ${choice.enabled ? 'on' : 'off'}` };
  }
  const enabled = s.engine.isEnabled(name, ctx);
  return { name, enabled, variant: s.engine.getVariant(name, ctx), reason: enabled ? matchedBy(s, flag, ctx) : unmatched(s, flag, ctx) };
}

/** Which strategy turned the flag on: found by evaluating each strategy alone (explanations are rare, not hot). */
function matchedBy(s: Snapshot, flag: Flag, ctx: UnleashContext): string {
  if (flag.strategies.length === 0) return 'on for everyone (no strategies)';
  let engines = s.explainers.get(flag.name);
  if (!engines) {
    engines = flag.strategies.map(
      (st) => new FlagEngine({ features: [{ name: 'x', enabled: true, strategies: [st as never] }], segments: s.segments }),
    );
    s.explainers.set(flag.name, engines);
  }
  const i = engines.findIndex((e) => e.isEnabled('x', ctx));
  const st = flag.strategies[i];
  return st ? `strategy ${i + 1} (${st.name}${describe(st)}) matched` : 'on';
}

function unmatched(s: Snapshot, flag: Flag, ctx: UnleashContext): string {
  for (const dep of flag.dependencies) {
    const parentOn = s.engine.isEnabled(dep.feature, ctx);
    if (parentOn !== (dep.enabled !== false)) return `depends on ${dep.feature} being ${dep.enabled === false ? 'off' : 'on'}`;
  }
  return 'no strategy matched';
}

function describe(st: FlagDefinition['strategies'][number]): string {
  const parts: string[] = [];
  if (st.parameters?.rollout !== undefined) parts.push(`${st.parameters.rollout}% by ${st.parameters.stickiness ?? 'default'}`);
  for (const c of st.constraints ?? [])
    parts.push(`${c.contextName} ${c.inverted ? 'NOT ' : ''}${c.operator} ${(c.values ?? [c.value]).join(',')}`);
  return parts.length ? `: ${parts.join('; ')}` : '';
}

function toFlag(r: Selectable<ControlDB['flags']>): Flag {
  return {
    name: r.name,
    description: r.description,
    owner: r.owner,
    type: r.type as FlagType,
    enabled: r.enabled,
    strategies: r.strategies as Flag['strategies'],
    variants: r.variants as Flag['variants'],
    dependencies: r.dependencies as Flag['dependencies'],
    clinicControllable: r.clinic_controllable,
    permanent: r.permanent,
    retireBy: r.retire_by,
    version: r.version,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
    updatedBy: r.updated_by,
  };
}

function toUnleash(f: Flag): FeatureDefinition {
  return {
    name: f.name,
    enabled: f.enabled,
    strategies: f.strategies as never,
    variants: f.variants as never,
    dependencies: f.dependencies,
    type: f.type,
  };
}

function columns(d: FlagDefinition) {
  return {
    description: d.description,
    owner: d.owner,
    type: d.type,
    enabled: d.enabled,
    strategies: JSON.stringify(d.strategies),
    variants: JSON.stringify(d.variants),
    dependencies: JSON.stringify(d.dependencies),
    clinic_controllable: d.clinicControllable,
    permanent: d.permanent,
    retire_by: d.retireBy,
  };
}

function facts(f: Flag) {
  return { type: f.type, permanent: f.permanent, retireBy: f.retireBy, createdAt: new Date(f.createdAt) };
}

function stripMeta(f: Flag): FlagDefinition {
  const { name: _n, version: _v, createdAt: _c, updatedAt: _u, updatedBy: _b, ...definition } = f;
  return definition;
}
