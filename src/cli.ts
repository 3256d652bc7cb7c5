import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from './config.js';
import { NewClinicInput, createClinic, type NewClinic } from './controlplane/provisioning.js';
import { AppError } from './errors.js';
import { verifyAuditChain } from './audit/verify.js';
import { createLogger } from './logger.js';
import { resolveStores } from './platform/boot.js';
import { openPlatform, type Platform } from './platform/platform.js';
import { exportClinic } from './tenancy/export.js';
import { downloadFullExport } from './export/download.js';
import { isId } from './ids.js';
import { migrateControlPlaneOnly, migrateFleet } from './tenancy/fleet.js';
import type { StoreResult } from './tenancy/fleet-stores.js';
import { latestTenantVersion } from './tenancy/migrations.js';
import { pinClinic, unpinClinic } from './tenancy/pins.js';
import { planRollout } from './rollouts/plan.js';
import { listRollouts, rolloutProgress, type RolloutProgress } from './rollouts/progress.js';
import { pauseRollout, runRollout } from './rollouts/runner.js';
import { moveClinicTo } from './regions/move.js';
import { PLACEMENT_MODELS, type PlacementModel } from './tenancy/naming.js';
import { CLINIC_TIERS, type ClinicTier } from './controlplane/schema.js';
import { changeTier } from './lifecycle/tier.js';
import { offboardClinic } from './lifecycle/offboard.js';
import { complianceReport } from './compliance/report.js';
import { reportHtml } from './compliance/html.js';
import { reportPdf } from './compliance/pdf.js';
import { takeBaseBackup } from './backups/base-backup.js';
import { backupSets } from './backups/location.js';
import { restoreClinic, type RestoreReport } from './backups/restore.js';
import { pruneBackups } from './backups/retention.js';
import type { SpareCount } from './tenancy/spares.js';
import { secretsCommand } from './secrets/cli.js';
import { regionsPoolerCommand } from './regions/pooler-command.js';
import { fhirKeysCommand } from './fhir/smart/keys-command.js';

const USAGE = `polyclinic <command>

  migrate                                   migrate the control plane and every clinic store, with progress
  clinics list                              list clinics with region, placement, status and schema version
  clinics create --name N --slug S --tier small|mid|enterprise --region R [--placement pooled|schema|database] [--specialty X]
  clinics move <clinicId> pooled|schema|database [--region <id>]
  clinics export <clinicId> --reason TEXT [--out FILE]
                                            write the clinic's configuration, staff directory and roles, with
                                            counts of its patient data but none of it (default
                                            <slug>-directory.tar.gz); the reason is kept in the clinic's trail
  clinics export <clinicId> --approval exr_… [--out FILE]
                                            write the clinic's full archive (PHI) under a break-glass request the
                                            clinic approved; the approval is spent (default <slug>-export.tar.gz)
  clinics suspend <clinicId> --reason TEXT  close the clinic's sign-in and API on every node (data stays)
  clinics resume <clinicId>                 open a suspended or read-only clinic again
  clinics tier <clinicId> small|mid|enterprise [--stay]
                                            change the tier and move online to its placement (--stay: no move)
  clinics offboard <clinicId> --approval exr_… --confirm SLUG [--out FILE]
                                            take the clinic's approved full export (unless already downloaded;
                                            written beside the certificate), then delete every row of the clinic in every store; writes the signed
                                            deletion certificate (default <slug>-deletion-certificate.json)
  compliance report <JURISDICTION> [--format json|html|pdf] [--out FILE]
                                            the jurisdiction's compliance report from the live configuration
  clinics restore <clinicId> --at TIME [--into-new SLUG [--placement pooled|schema|database]]
                                            restore the clinic's data as it was at TIME (ISO 8601) from its
                                            region's backups, in place or into a new clinic; prints the
                                            verification report (rows, checksums, audit chains); exit 1 if it fails
  backups take [--region R]                 take a base backup of every backed-up server (or R's)
  backups list                              the backup catalogue
  backups prune                             apply each region's retention to its backups and archived WAL
  rollout start [--canary cln_…,cln_…] [--max-failure-rate 0.1]
                                            roll this build's tenant migrations out in waves (canary, then by
                                            tier, then by region), pausing when a wave's failed share passes the rate
  rollout status [<rolloutId>]              the rollout's waves and counts, failed and pinned clinics (default: newest)
  rollout resume <rolloutId>                run a paused or held rollout on from its current wave
  rollout pause <rolloutId>                 stop starting stores in a running rollout
  clinics pin <clinicId> --version N --reason TEXT
                                            hold a clinic at a tenant schema version during rollouts
  clinics unpin <clinicId>                  lift the pin
  fhir keys list                            the SMART id_token signing keys still published (active first)
  fhir keys rotate                          a new signing key signs from now; the old one stays in the JWKS until
                                            every token it signed has expired (then pruned)
  fhir keys prune                           retire the superseded keys whose tokens have all expired
  flags stale                               flags past their retire-by date or their type's expected lifetime
  audit verify --clinic <clinicId>          recompute the clinic's PHI audit hash chain; exit 1 if it is broken
  spares [refill]                           spare schema and database stores per region, ready and stale;
                                            refill: discard the stale ones and build up to POLYCLINIC_SPARE_STORES
  secrets reseal                            seal every clinic's secrets under its newest data key (v1 values
                                            included); idempotent; exit 1 if a clinic's store must be run again
  secrets rotate <clinicId>                 a new data key for the clinic, its secrets resealed, the old destroyed
  regions status                            each replicated region store: primary, standby, epoch, sync, lag
  regions failover <regionId> --reason TEXT fail the region's store over to its standby (fence, promote, switch
                                            every node); see docs/operations.md
  regions pooler <regionId> [--auth-file]   the clinic pooler's settings for the region's primary now (its
                                            [databases] line, auth_query; --auth-file: the pooler role's login),
                                            and, where the platform owns its databases file, repoint it now

Configuration comes from the same POLYCLINIC_* variables as the server (see README).`;

async function run(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      slug: { type: 'string' },
      tier: { type: 'string' },
      region: { type: 'string' },
      placement: { type: 'string' },
      specialty: { type: 'string' },
      out: { type: 'string' },
      reason: { type: 'string' },
      approval: { type: 'string' },
      clinic: { type: 'string' },
      confirm: { type: 'string' },
      format: { type: 'string' },
      stay: { type: 'boolean' },
      at: { type: 'string' },
      'into-new': { type: 'string' },
      canary: { type: 'string' },
      'max-failure-rate': { type: 'string' },
      version: { type: 'string' },
      'auth-file': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, sub, ...rest] = positionals;
  if (!command || values.help) {
    console.log(USAGE);
    return command ? 0 : 2;
  }
  // Usage errors are answered before any store is opened (in embedded mode that would start PostgreSQL).
  let newClinic: NewClinic | undefined;
  if (command === 'clinics' && sub === 'create') {
    const parsed = NewClinicInput.safeParse({
      name: values.name,
      slug: values.slug,
      tier: values.tier,
      dataRegion: values.region,
      ...(values.specialty ? { specialty: values.specialty } : {}),
      ...(values.placement ? { placement: values.placement } : {}),
    });
    if (!parsed.success) {
      const flag: Record<string, string> = { dataRegion: 'region' };
      for (const i of parsed.error.issues) console.error(`--${flag[String(i.path[0])] ?? String(i.path[0])}: ${i.message}`);
      console.error(
        'usage: polyclinic clinics create --name N --slug S --tier small|mid|enterprise --region R [--placement pooled|schema|database]',
      );
      return 2;
    }
    newClinic = parsed.data;
  }
  const config = loadConfig();
  const log = createLogger(process.env.POLYCLINIC_LOG_LEVEL ?? 'warn');
  const { config: resolved, embedded } = await resolveStores(config, log);
  const p = await openPlatform(resolved, log);
  try {
    return await dispatch(p, command, sub, rest, values, newClinic);
  } finally {
    await p.close();
    await embedded?.stop();
  }
}

function printSpares(spares: SpareCount[]): void {
  for (const s of spares) console.log(`spares ${s.regionId} ${s.model}: ${s.ready} ready, ${s.stale} stale`);
}

async function dispatch(
  p: Platform,
  command: string,
  sub: string | undefined,
  rest: string[],
  values: Record<string, string | boolean | undefined>,
  newClinic: NewClinic | undefined,
): Promise<number> {
  if (command === 'migrate') {
    const report = await migrateFleet(p, (e) =>
      console.log(
        `[${e.done}/${e.total}] ${e.store} ${e.outcome}${e.clinicIds.length ? ` (${e.clinicIds.length} clinic${e.clinicIds.length === 1 ? '' : 's'})` : ''}${e.error ? `: ${e.error}` : ''}`,
      ),
    );
    printSpares(report.spares);
    console.log(
      `control plane v${report.control.from} -> v${report.control.to}; tenant target v${report.target}: ${report.migrated.length} migrated, ${report.upToDate.length} up to date, ${report.skipped.length} skipped, ${report.pinned.length} pinned, ${report.failed.length} failed`,
    );
    for (const f of report.failed) console.log(`  FAILED ${f.clinicId}: ${f.error}`);
    return report.failed.length ? 1 : 0;
  }
  if (command === 'spares' && (sub === undefined || sub === 'refill')) {
    printSpares(sub === 'refill' ? await p.spares.refillAll(p.tenantMigrations) : await p.spares.status(p.tenantMigrations));
    return 0;
  }
  if (command === 'clinics' && sub === 'list') {
    for (const c of await p.clinics.all())
      console.log(
        [
          c.id,
          c.slug.padEnd(20),
          c.tier.padEnd(10),
          c.dataRegion.padEnd(11),
          c.placement.model.padEnd(9),
          c.status.padEnd(8),
          `v${c.schemaVersion}`,
        ].join('  '),
      );
    return 0;
  }
  if (command === 'clinics' && sub === 'create' && newClinic) {
    if (!p.config.regions.some((r) => r.id === newClinic.dataRegion)) {
      console.error(
        `--region: ${newClinic.dataRegion} is not a region of this deployment (${p.config.regions.map((r) => r.id).join(', ')})`,
      );
      return 2;
    }
    const clinic = await createClinic(p, newClinic);
    console.log(`${clinic.id} created in ${clinic.dataRegion} (${clinic.placement.model})`);
    return 0;
  }
  if (command === 'clinics' && sub === 'move') {
    const [clinicId, model] = rest;
    if (!clinicId || !PLACEMENT_MODELS.includes(model as PlacementModel)) {
      console.error('usage: polyclinic clinics move <clinicId> pooled|schema|database [--region <id>]');
      return 2;
    }
    const region = typeof values.region === 'string' ? values.region : undefined;
    const { move } = await moveClinicTo(p, clinicId, { model: model as PlacementModel, region });
    const regions = move.toRegion === move.fromRegion ? '' : ` region ${move.fromRegion} -> ${move.toRegion};`;
    console.log(`moved ${clinicId} ${move.from} -> ${move.to};${regions} writes frozen ${move.frozenMs} ms`);
    if (move.handover)
      console.log(
        `  ${move.handover.what}: ${move.handover.records} records, ${move.handover.verified ? 'verified' : 'NOT VERIFIED'} in ${move.toRegion}, ${move.handover.sourceRemoved ? 'removed' : 'NOT removed'} from ${move.fromRegion}`,
      );
    for (const t of move.tables) console.log(`  ${t.table.padEnd(20)} ${String(t.rows).padStart(8)} rows  ${t.checksum}`);
    return 0;
  }
  if (command === 'clinics' && sub === 'export') {
    const [clinicId] = rest;
    const clinic = clinicId ? await p.clinics.fresh(clinicId) : undefined;
    const reason = typeof values.reason === 'string' ? values.reason.trim() : '';
    const approval = typeof values.approval === 'string' ? values.approval : undefined;
    const usage = 'usage: polyclinic clinics export <clinicId> (--reason TEXT | --approval exr_…) [--out FILE]';
    if (!clinic) {
      console.error(`${usage} (clinic not found)`);
      return 2;
    }
    if (approval !== undefined) {
      // The full archive holds PHI: only under the clinic's own approval, spent by this download.
      if (!isId('exportRequest', approval)) {
        console.error(`${usage} (--approval: an export request id, exr_…)`);
        return 2;
      }
      const out = (values.out as string | undefined) ?? `${clinic.slug}-export.tar.gz`;
      writeFileSync(out, await downloadFullExport(p, clinic.id, approval, { kind: 'cli', userId: null }, null));
      console.log(`wrote ${out} (full export under ${approval})`);
      return 0;
    }
    if (reason.length < 10) {
      console.error(`${usage} (--reason: say why, in at least 10 characters)`);
      return 2;
    }
    const out = (values.out as string | undefined) ?? `${clinic.slug}-directory.tar.gz`;
    writeFileSync(out, await exportClinic(p, clinic.id, { reason, scope: 'directory' }));
    console.log(`wrote ${out}`);
    return 0;
  }
  if (command === 'clinics' && ['suspend', 'resume', 'tier', 'offboard'].includes(sub ?? '')) return lifecycle(p, sub!, rest, values);
  if (command === 'compliance' && sub === 'report') return compliance(p, rest, values);
  if (command === 'audit' && sub === 'verify') {
    const clinic = typeof values.clinic === 'string' ? await p.clinics.fresh(values.clinic) : undefined;
    if (!clinic) {
      console.error('usage: polyclinic audit verify --clinic <clinicId> (clinic not found)');
      return 2;
    }
    const v = await verifyAuditChain(p, clinic.id);
    if (v.ok) {
      console.log(
        `audit chain of ${clinic.id} intact: ${v.records} record(s), head seq ${v.head?.seq ?? 0}${v.head ? ` ${v.head.hash}` : ''}`,
      );
      return 0;
    }
    console.log(
      `audit chain of ${clinic.id} BROKEN at seq ${v.problem!.seq}: ${v.problem!.kind}: ${v.problem!.message} (${v.records} record(s) verified before it)`,
    );
    return 1;
  }
  if (command === 'regions' && sub === 'status') {
    const items = await p.failover.status();
    if (!items.length) console.log('no region store has a standby configured');
    for (const r of items) {
      const standbys = (r.primary.standbys ?? []).map((s) => `${s.name} ${s.state}/${s.syncState}`).join(', ') || 'none streaming';
      console.log(
        `${r.regionId.padEnd(14)} epoch ${r.epoch ?? '-'} ${r.state.padEnd(9)} primary ${r.primary.address} ` +
          `(${r.primary.reachable ? `up, epoch mark ${r.primary.epoch ?? 'none'}` : 'UNREACHABLE'}) ` +
          `standby ${r.standby.address} (${r.standby.reachable ? (r.standby.inRecovery ? 'in recovery' : 'NOT A STANDBY') : 'UNREACHABLE'}) ` +
          `sync ${r.synchronousConfigured ? 'configured' : 'off'}; streaming: ${standbys}`,
      );
      if (r.lastFailover)
        console.log(
          `${''.padEnd(14)} last failover to epoch ${r.lastFailover.epoch} at ${r.lastFailover.at.toISOString()}: ${r.lastFailover.from} -> ${r.lastFailover.to} (${r.lastFailover.reason}; old primary ${r.lastFailover.oldPrimary})`,
        );
    }
    return 0;
  }
  if (command === 'regions' && sub === 'failover') {
    const regionId = rest[0];
    const reason = typeof values.reason === 'string' ? values.reason.trim() : '';
    if (!regionId || reason.length < 3) {
      console.error('usage: polyclinic regions failover <regionId> --reason TEXT');
      return 2;
    }
    const r = await p.failover.failover(regionId, { reason, requestedBy: 'cli' });
    console.log(`${r.regionId} failed over to ${r.to} at epoch ${r.epoch} in ${r.tookMs} ms (old primary ${r.from}: ${r.oldPrimary})`);
    return 0;
  }
  if (command === 'regions' && sub === 'pooler') return regionsPoolerCommand(p, rest[0], values['auth-file'] === true);
  if (command === 'clinics' && sub === 'restore') return restoreCommand(p, rest, values);
  if (command === 'backups' && sub) return backupsCommand(p, sub, values);
  if (command === 'secrets') return secretsCommand(p, sub, rest);
  if (command === 'rollout') return rolloutCommand(p, sub, rest, values);
  if (command === 'clinics' && (sub === 'pin' || sub === 'unpin')) {
    const [clinicId] = rest;
    const version = Number(values.version);
    const reason = typeof values.reason === 'string' ? values.reason.trim() : '';
    if (!clinicId || (sub === 'pin' && (!Number.isInteger(version) || version < 1 || reason.length < 3))) {
      console.error('usage: polyclinic clinics pin <clinicId> --version N --reason TEXT | polyclinic clinics unpin <clinicId>');
      return 2;
    }
    if (sub === 'unpin') {
      const lifted = await unpinClinic(p.control, clinicId);
      console.log(lifted ? `unpinned ${clinicId}` : `${clinicId} had no pin`);
      return lifted ? 0 : 1;
    }
    const pin = await pinClinic(p.control, { clinicId, version, reason, pinnedBy: 'cli' }, latestTenantVersion(p.tenantMigrations));
    console.log(`pinned ${pin.clinicId} at v${pin.version}`);
    return 0;
  }
  if (command === 'fhir' && sub === 'keys') return fhirKeysCommand(p.signingKeys, rest[0]);
  if (command === 'flags' && sub === 'stale') {
    const stale = await p.flags.stale();
    for (const f of stale) console.log(`${f.name.padEnd(32)} ${f.type.padEnd(12)} owner ${f.owner.padEnd(24)} due ${f.retireDate}`);
    console.log(`${stale.length} stale flag${stale.length === 1 ? '' : 's'}`);
    return stale.length ? 1 : 0;
  }
  console.error(USAGE);
  return 2;
}

/** The clinic lifecycle (src/lifecycle/, fleet/incidents.ts): suspend, resume, tier change, offboarding. */
async function lifecycle(p: Platform, sub: string, rest: string[], values: Record<string, string | boolean | undefined>): Promise<number> {
  const [clinicId, arg] = rest;
  const clinic = clinicId ? await p.clinics.fresh(clinicId) : undefined;
  if (!clinic) {
    console.error(`usage: polyclinic clinics ${sub} <clinicId> … (clinic not found)`);
    return 2;
  }
  if (sub === 'suspend' || sub === 'resume') {
    const reason = typeof values.reason === 'string' ? values.reason.trim() : '';
    if (sub === 'suspend' && !reason) {
      console.error('usage: polyclinic clinics suspend <clinicId> --reason TEXT (shown to the clinic’s members)');
      return 2;
    }
    const changed = await p.clinics.setIncidentMode(clinic.id, sub === 'suspend' ? 'suspended' : 'active', reason || null);
    if (!changed) {
      console.error(`clinic_not_settled: the clinic is ${clinic.status}; wait until it is active, then try again`);
      return 1;
    }
    console.log(`${clinic.id} is ${changed.status}`);
    return 0;
  }
  if (sub === 'tier') {
    if (!CLINIC_TIERS.includes(arg as ClinicTier)) {
      console.error('usage: polyclinic clinics tier <clinicId> small|mid|enterprise [--stay]');
      return 2;
    }
    const { clinic: now, move } = await changeTier(p, clinic.id, arg as ClinicTier, { move: !values.stay });
    console.log(
      `${now.id} is ${now.tier}, in ${now.placement.model} placement${move ? ` (moved; writes frozen ${move.frozenMs} ms)` : ''}`,
    );
    return 0;
  }
  const approval = typeof values.approval === 'string' ? values.approval : '';
  const confirm = typeof values.confirm === 'string' ? values.confirm : '';
  if (!isId('exportRequest', approval) || !confirm) {
    console.error('usage: polyclinic clinics offboard <clinicId> --approval exr_… --confirm SLUG [--out FILE]');
    return 2;
  }
  const request = await p.control
    .selectFrom('phi_export_requests')
    .select('status')
    .where('clinic_id', '=', clinic.id)
    .where('id', '=', approval)
    .executeTakeFirst();
  if (request?.status === 'approved' && confirm === clinic.slug) {
    // The archive leaves through the approved path before anything is deleted: written, then offboarded.
    const archive = join(dirname((values.out as string | undefined) ?? '.'), `${clinic.slug}-export.tar.gz`);
    writeFileSync(archive, await downloadFullExport(p, clinic.id, approval, { kind: 'cli', userId: null }, null));
    console.log(`wrote ${archive} (full export under ${approval})`);
  }
  const certificate = await offboardClinic(p, clinic.id, { exportRequestId: approval, confirmSlug: confirm, operatorId: 'cli' });
  const out = (values.out as string | undefined) ?? `${clinic.slug}-deletion-certificate.json`;
  writeFileSync(out, `${JSON.stringify(certificate, null, 2)}\n`);
  console.log(`offboarded ${clinic.id}: ${certificate.body.totalRows} rows removed; certificate ${certificate.body.id} written to ${out}`);
  for (const b of certificate.body.backups) console.log(`  backups of ${b.region} still holding it expire by ${b.expiresBy}`);
  if (certificate.body.keys) console.log(`  ${certificate.body.keys.statement}`);
  return 0;
}

async function compliance(p: Platform, rest: string[], values: Record<string, string | boolean | undefined>): Promise<number> {
  const [code] = rest;
  const format = (values.format as string | undefined) ?? 'json';
  if (!code || !['json', 'html', 'pdf'].includes(format)) {
    console.error('usage: polyclinic compliance report <JURISDICTION> [--format json|html|pdf] [--out FILE]');
    return 2;
  }
  const report = await complianceReport(p, code);
  const body = format === 'pdf' ? await reportPdf(report) : format === 'html' ? reportHtml(report) : `${JSON.stringify(report, null, 2)}\n`;
  if (typeof values.out === 'string') {
    writeFileSync(values.out, body);
    console.log(`wrote ${values.out}`);
  } else process.stdout.write(body);
  return 0;
}

async function restoreCommand(p: Platform, rest: string[], values: Record<string, string | boolean | undefined>): Promise<number> {
  const usage = 'usage: polyclinic clinics restore <clinicId> --at TIME [--into-new SLUG [--placement pooled|schema|database]]';
  const [clinicId] = rest;
  const at = typeof values.at === 'string' ? new Date(values.at) : undefined;
  const slug = values['into-new'];
  const placement = values.placement as PlacementModel | undefined;
  if (!clinicId || !at || Number.isNaN(at.getTime()) || (placement && !PLACEMENT_MODELS.includes(placement)) || (placement && !slug)) {
    console.error(usage);
    return 2;
  }
  const report = await restoreClinic(
    p,
    clinicId,
    at,
    typeof slug === 'string' ? { mode: 'new-clinic', slug, ...(placement ? { placement } : {}) } : { mode: 'in-place' },
  );
  console.log(
    `restored ${report.clinicId} to ${report.targetTime} ${report.mode === 'in-place' ? 'in place' : `into ${report.targetClinicId}`} (${report.placement}) from ${report.backupId} in ${report.durationMs} ms`,
  );
  for (const t of report.tables) console.log(`  ${t.table.padEnd(24)} ${String(t.rows).padStart(8)} rows  ${t.checksum}`);
  const chain = (name: string, v: RestoreReport['trail']) =>
    console.log(`  ${name}: ${v.ok ? 'intact' : `BROKEN: ${v.problem?.message}`}, ${v.records} record(s)`);
  chain('audit chain in the backup', report.backupTrail);
  chain('audit chain now', report.trail);
  console.log(report.ok ? 'verified' : 'NOT VERIFIED');
  return report.ok ? 0 : 1;
}

async function backupsCommand(p: Platform, sub: string, values: Record<string, string | boolean | undefined>): Promise<number> {
  const sets = backupSets(p.config).filter((s) => !values.region || s.regions.some((r) => r.id === values.region));
  if (sub === 'take' || sub === 'prune') {
    if (sets.length === 0) {
      console.error('no region has a backup location (POLYCLINIC_REGION_<ID>_BACKUP_LOCATION)');
      return 2;
    }
    for (const set of sets) {
      if (sub === 'take') {
        const b = await takeBaseBackup(p, set);
        console.log(`${b.id}  ${set.name} (${set.regions.map((r) => r.id).join(', ')})  ${b.bytes} bytes  from WAL ${b.startWal}`);
      } else {
        const r = await pruneBackups(p, set);
        console.log(
          `${set.name}: retention ${r.retentionDays} days; ${r.prunedBackups.length} backup(s) and ${r.prunedWal} WAL file(s) removed, ${r.keptBackups} backup(s) kept`,
        );
      }
    }
    return 0;
  }
  if (sub === 'list') {
    const rows = await p.control.selectFrom('backups').selectAll().orderBy('started_at', 'desc').execute();
    for (const b of rows)
      console.log(
        [b.id, b.status.padEnd(9), b.regions.join(',').padEnd(20), b.finished_at?.toISOString() ?? '-', `${b.bytes ?? 0} bytes`].join('  '),
      );
    return 0;
  }
  console.error(USAGE);
  return 2;
}

async function rolloutCommand(
  p: Platform,
  sub: string | undefined,
  rest: string[],
  values: Record<string, string | boolean | undefined>,
): Promise<number> {
  const onResult = (wave: string, r: StoreResult) =>
    console.log(
      `[${wave}] ${r.store.key} ${r.outcome}${r.version !== undefined ? ` v${r.version}` : ''} (${r.clinicIds.length} clinic${r.clinicIds.length === 1 ? '' : 's'})${r.error ? `: ${r.error}` : ''}`,
    );
  const [id] = rest;
  if (sub === 'start') {
    const rate = values['max-failure-rate'] === undefined ? 0.1 : Number(values['max-failure-rate']);
    if (!(rate >= 0 && rate <= 1)) {
      console.error('--max-failure-rate: a share between 0 and 1');
      return 2;
    }
    const control = await migrateControlPlaneOnly(p);
    console.log(`control plane v${control.from} -> v${control.to}`);
    const canary =
      typeof values.canary === 'string'
        ? values.canary
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean)
        : undefined;
    const rolloutId = await planRollout(p, { ...(canary ? { canary } : {}), maxFailureRate: rate, createdBy: 'cli' });
    await runRollout(p, rolloutId, { onResult });
    return printRollout(await rolloutProgress(p.control, rolloutId));
  }
  if (sub === 'resume' && id) {
    await runRollout(p, id, { onResult });
    return printRollout(await rolloutProgress(p.control, id));
  }
  if (sub === 'pause' && id) {
    await pauseRollout(p, id, 'cli');
    return printRollout(await rolloutProgress(p.control, id));
  }
  if (sub === 'status') {
    const progress = id ? await rolloutProgress(p.control, id) : (await listRollouts(p.control, 1))[0];
    if (!progress) {
      console.log('no rollouts yet');
      return 0;
    }
    return printRollout(progress);
  }
  console.error(USAGE);
  return 2;
}

/** The rollout as a table; exit 0 when it completed, 1 otherwise (paused, held, still running). */
function printRollout(r: RolloutProgress): number {
  console.log(`${r.id} to v${r.targetVersion}: ${r.status}${r.statusReason ? ` (${r.statusReason})` : ''}`);
  for (const w of r.waves) {
    const c = w.counts;
    console.log(
      `  ${w.name.padEnd(24)} ${w.status.padEnd(8)} ${String(c.migrated + c['up-to-date']).padStart(5)}/${String(w.total).padEnd(5)} done  ${c.failed} failed  ${c.pinned} pinned  ${c.pending} pending`,
    );
  }
  for (const f of r.failures) console.log(`  FAILED ${f.clinicId} (${f.slug}, ${f.wave}): ${f.error}`);
  for (const h of r.held) console.log(`  PINNED ${h.clinicId} (${h.slug}) at v${h.version ?? '?'}`);
  return r.status === 'completed' ? 0 : 1;
}

run(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    if (err instanceof ConfigError) console.error(err.message);
    else if (err instanceof AppError) console.error(`${err.code}: ${err.message}`);
    else console.error(err);
    process.exit(1);
  },
);
