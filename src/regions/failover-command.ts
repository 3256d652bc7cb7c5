import type { Platform } from '../platform/platform.js';

/** `polyclinic regions status`: each replicated region store, its primary, standby, epoch, sync and streaming. */
export async function regionsStatusCommand(p: Platform): Promise<number> {
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

/** `polyclinic regions failover <regionId> --reason TEXT`: the region's store fails over to its standby. */
export async function regionsFailoverCommand(
  p: Platform,
  regionId: string | undefined,
  values: { readonly reason?: string | boolean },
): Promise<number> {
  const reason = typeof values.reason === 'string' ? values.reason.trim() : '';
  if (!regionId || reason.length < 3) {
    console.error('usage: polyclinic regions failover <regionId> --reason TEXT');
    return 2;
  }
  const r = await p.failover.failover(regionId, { reason, requestedBy: 'cli' });
  console.log(`${r.regionId} failed over to ${r.to} at epoch ${r.epoch} in ${r.tookMs} ms (old primary ${r.from}: ${r.oldPrimary})`);
  return 0;
}
