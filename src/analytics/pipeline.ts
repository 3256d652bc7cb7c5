import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { ClinicDirectory } from '../controlplane/clinics.js';
import type { TenantStores } from '../tenancy/stores.js';
import { DuckDbWarehouse } from './duckdb-warehouse.js';
import { WarehouseLoader } from './loader.js';
import { NatsStream } from './nats-stream.js';
import { OutboxRelay } from './relay.js';
import { type EventStream, InProcessStream } from './stream.js';
import type { Warehouse } from './warehouse.js';

export interface AnalyticsDeps {
  stores: Pick<TenantStores, 'transaction'>;
  clinics: Pick<ClinicDirectory, 'list'>;
  secret: string;
  regions: string[];
  log: Logger;
  config: Config['analytics'];
}

/**
 * The chain outbox → scrubber → stream → warehouse, assembled: one relay per region served by this node,
 * one loader. The stream and warehouse open on first use, so a node (or a test) that never runs analytics
 * holds neither a NATS connection nor a DuckDB file. `start` runs a pass every `intervalMs`; passes never
 * overlap. (When the job queue lands, a pass becomes a recurring job per region.)
 */
export class AnalyticsPipeline {
  private streamP: Promise<EventStream> | undefined;
  private warehouseP: Promise<Warehouse> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  /** One relay per region for the pipeline's life, so its surrogate cache outlives a pass. */
  private readonly relays = new Map<string, OutboxRelay>();

  constructor(private readonly deps: AnalyticsDeps) {}

  stream(): Promise<EventStream> {
    const { natsUrl } = this.deps.config;
    this.streamP ??= natsUrl ? NatsStream.open(natsUrl, 'POLYCLINIC_ANALYTICS') : Promise.resolve(new InProcessStream());
    return this.streamP;
  }

  warehouse(): Promise<Warehouse> {
    this.warehouseP ??= DuckDbWarehouse.open(this.deps.config.warehousePath);
    return this.warehouseP;
  }

  /** One pass: every region's outbox into the stream, then the stream into the warehouse. */
  async runOnce(): Promise<{ published: number; applied: number }> {
    const stream = await this.stream();
    let published = 0;
    for (const region of this.deps.regions) {
      let relay = this.relays.get(region);
      if (!relay) this.relays.set(region, (relay = new OutboxRelay({ ...this.deps, stream }, region)));
      published += (await relay.drain()).published;
    }
    const { applied } = await new WarehouseLoader(stream, await this.warehouse()).drain();
    return { published, applied };
  }

  start(): void {
    if (this.deps.config.intervalMs === 0 || this.timer) return;
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.runOnce()
        .catch((err) => this.deps.log.error({ err }, 'analytics pass failed'))
        .finally(() => {
          this.running = undefined;
        });
    }, this.deps.config.intervalMs);
    this.timer.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
    if (this.streamP) await (await this.streamP).close();
    if (this.warehouseP) await (await this.warehouseP).close();
  }
}
