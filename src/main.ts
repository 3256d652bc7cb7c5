import { ConfigError, loadConfig } from './config.js';
import { seedDemo, type DemoCredentials } from './demo/seed.js';
import { buildApp } from './http/app.js';
import { createLogger } from './logger.js';
import { resolveStores } from './platform/boot.js';
import { openPlatform } from './platform/platform.js';
import { maintainRegions } from './tenancy/fleet.js';
import { migrateAtStart } from './platform/startup.js';
import { startMailCatcher } from './platform/mail-catcher.js';
import { join } from 'node:path';

/** `npm start`: one API node. Stores come from configuration, or the embedded default with a demo fleet. */
async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(78);
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
  const { config: resolved, embedded } = await resolveStores(config, log);
  // Without a relay the embedded default sends its mail over SMTP to a local catcher that keeps it on disk.
  const catcher = !resolved.smtpUrl && embedded ? await startMailCatcher({ dir: join(resolved.dataDir, 'mail'), log }) : undefined;
  const platform = await openPlatform({ ...resolved, smtpUrl: catcher?.url ?? resolved.smtpUrl }, log);
  // The control plane before listening; the tenant stores in the background (`platform/startup.ts`), so a node
  // starts in seconds whatever the fleet's size, and also while another runner migrates.
  const migrating = config.migrateOnStart ? await migrateAtStart(platform, log) : undefined;
  // The demo fleet is seeded into stores that must be there first (a fresh embedded database has none yet).
  if (config.demo) await migrating?.stores;
  // The regions' upkeep (the audit trail's months ahead): part of migrating, else here; and daily on every node.
  if (!config.migrateOnStart) await maintainRegions(platform);
  const upkeep = setInterval(() => void maintainRegions(platform), 24 * 3_600_000);
  upkeep.unref();
  if (config.operator) await platform.users.ensureOperator(config.operator.email, config.operator.password);
  // Replicated regions: record their primaries, put synchronous mode in force, and probe them (src/regions/).
  await platform.regionPrimaries.ensure();
  platform.failover.start();
  const demo = config.demo ? await seedDemo(platform) : undefined;
  const app = await buildApp(platform);
  const address = await app.listen({ host: config.host, port: config.port });
  // Jobs (reminders, confirmations) run on every node that has a share of workers; 0 makes a node enqueue only.
  if (config.jobs.concurrency > 0) platform.worker.start();
  platform.analytics.start();

  const shutdown = async (signal: string) => {
    log.info({ signal }, 'shutting down');
    clearInterval(upkeep);
    await app.close();
    await platform.close();
    await catcher?.stop();
    await embedded?.stop();
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  printBanner(address, embedded !== undefined || config.embedded, demo, catcher ? join(resolved.dataDir, 'mail') : undefined);
}

function printBanner(address: string, embedded: boolean, demo: DemoCredentials | undefined, mailDir: string | undefined): void {
  const lines = [
    '',
    `Polyclinic is running at ${address}   (open it in a browser)`,
    `  API docs:   ${address}/api/docs   (OpenAPI: ${address}/api/openapi.json)`,
    `  Stores:     ${embedded ? 'embedded PostgreSQL (data in ./.polyclinic/)' : 'configured PostgreSQL URLs'}`,
  ];
  if (mailDir) lines.push(`  Mail:       caught locally, not delivered (messages in ${mailDir}, links in the log)`);
  if (demo) {
    lines.push(`  Operator:   ${demo.operator.email} / ${demo.operator.password}`);
    lines.push(`  Staff password (every demo user): ${demo.staffPassword}`);
    lines.push('  Demo clinics:');
    for (const c of demo.clinics)
      lines.push(
        `    ${c.name.padEnd(26)} ${c.region.padEnd(11)} ${c.placement.padEnd(9)} ${c.clinicId}  ${c.users.map((u) => u.email).join(', ')}`,
      );
    if (demo.patient) lines.push(`  Patient:    ${demo.patient.email} (staff password) at ${demo.patient.portal}`);
  }
  lines.push('');
  console.log(lines.join('\n'));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
