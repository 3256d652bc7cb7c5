import { writeFileSync } from 'node:fs';
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
import { migrateFleet } from './tenancy/fleet.js';
import { latestTenantVersion } from './tenancy/migrations.js';
import { pinClinic, unpinClinic } from './tenancy/pins.js';
import { moveClinicTo } from './regions/move.js';
import { PLACEMENT_MODELS, type PlacementModel } from './tenancy/naming.js';
import type { SpareCount } from './tenancy/spares.js';
import { secretsCommand } from './secrets/cli.js';
import { regionsPoolerCommand } from './regions/pooler-command.js';
import { fhirKeysCommand } from './fhir/smart/keys-command.js';
import { backupsCommand, restoreCommand } from './backups/command.js';
import { complianceCommand } from './compliance/command.js';
import { lifecycleCommand } from './lifecycle/command.js';
import { regionsFailoverCommand, regionsStatusCommand } from './regions/failover-command.js';
import { rolloutCommand } from './rollouts/command.js';

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
  if (command === 'clinics' && ['suspend', 'resume', 'tier', 'offboard'].includes(sub ?? ''))
    return lifecycleCommand(p, sub!, rest, values);
  if (command === 'compliance' && sub === 'report') return complianceCommand(p, rest, values);
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
  if (command === 'regions' && sub === 'status') return regionsStatusCommand(p);
  if (command === 'regions' && sub === 'failover') return regionsFailoverCommand(p, rest[0], values);
  if (command === 'regions' && sub === 'pooler') return regionsPoolerCommand(p, rest[0], values['auth-file'] === true);
  if (command === 'clinics' && sub === 'restore') return restoreCommand(p, rest, values);
  if (command === 'backups' && sub) return (await backupsCommand(p, sub, values)) ?? usage();
  if (command === 'secrets') return secretsCommand(p, sub, rest);
  if (command === 'rollout') return (await rolloutCommand(p, sub, rest, values)) ?? usage();
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
  return usage();
}

/** An unknown command or subcommand: the usage on stderr, exit 2. */
function usage(): number {
  console.error(USAGE);
  return 2;
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
