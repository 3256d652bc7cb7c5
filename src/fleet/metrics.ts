import type { FastifyReply, FastifyRequest } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Clinic } from '../controlplane/clinics.js';
import { ClinicStats } from './clinic-stats.js';

/**
 * The node's Prometheus metrics (`GET /metrics`, text format), on a registry of this platform's own (tests run
 * several platforms in one process).
 *
 * Series are bounded by construction. Per route, the labels are the route's template, method, status and the
 * clinic's region, tier and placement — a few hundred series however many clinics there are. Per clinic, only
 * the enterprise clinics and the `busiest` most active ones of the last minutes get a series of their own; every
 * other clinic is summed into `clinic="other"`. The per-clinic series are gauges over the recent window, set
 * afresh at each scrape, so a clinic that stops being busy leaves no series behind.
 */
export interface MetricsSources {
  /** The clinic a request was admitted to (`admission.ts`). */
  clinicOf(req: FastifyRequest): Clinic | undefined;
  poolStats(): { pool: string; total: number; idle: number; waiting: number }[];
  openBreakers(): string[];
  cachedClinics(): number;
}

const NONE = 'none';

interface Series {
  requests: { inc(): void };
  durations: { observe(value: number): void };
}

export class FleetMetrics {
  readonly registry = new Registry();
  readonly stats = new ClinicStats();
  private readonly requests: Counter<'route' | 'method' | 'status' | 'region' | 'tier' | 'placement'>;
  private readonly durations: Histogram<'route' | 'method' | 'region' | 'tier' | 'placement'>;
  private readonly series = new Map<string, Series>();
  private readonly appendSeconds: Histogram<'region'>;
  private readonly appendRecords: Histogram<'region'>;
  private readonly appendSeries = new Map<string, { seconds: Series['durations']; records: Series['durations'] }>();

  constructor(
    private readonly sources: MetricsSources,
    private readonly busiest: number,
  ) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'polyclinic_' });
    this.requests = new Counter({
      name: 'polyclinic_http_requests_total',
      help: 'HTTP requests answered, by route template, method, status and the clinic’s region, tier and placement',
      labelNames: ['route', 'method', 'status', 'region', 'tier', 'placement'],
      registers,
    });
    this.durations = new Histogram({
      name: 'polyclinic_http_request_duration_seconds',
      help: 'Time to answer, by route template and the clinic’s region, tier and placement',
      labelNames: ['route', 'method', 'region', 'tier', 'placement'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    // The PHI audit chain: one clinic's appends run one after another, so their wall time is what an audited read
    // waits for beyond its own query when the node is busy (docs/benchmarks.md, "The floor").
    const perRegion = (name: string, help: string, buckets: number[]) =>
      new Histogram({ name, help, labelNames: ['region'], buckets, registers });
    this.appendSeconds = perRegion(
      'polyclinic_audit_append_seconds',
      'Wall time of one append to a clinic’s audit chain (one statement, its records committed), by region',
      [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    );
    this.appendRecords = perRegion(
      'polyclinic_audit_append_records',
      'Records per append to a clinic’s audit chain (concurrent requests of a clinic share one), by region',
      [1, 2, 4, 8, 16, 32, 64, 128, 256, 500],
    );
    const perClinic = (name: string, help: string, figure: (f: ReturnType<ClinicStats['figures']>[number]) => number, sum: boolean) =>
      new Gauge({
        name,
        help,
        labelNames: ['clinic', 'region', 'tier', 'placement'],
        registers,
        collect: () => {
          const g = this.registry.getSingleMetric(name) as Gauge<'clinic' | 'region' | 'tier' | 'placement'>;
          g.reset();
          const figures = this.stats.figures();
          const named = new Set([
            ...figures.filter((f) => f.tier === 'enterprise').map((f) => f.clinicId),
            ...this.stats.busiest(this.busiest),
          ]);
          const others = new Map<string, number>();
          for (const f of figures) {
            if (named.has(f.clinicId)) {
              g.set({ clinic: f.clinicId, region: f.region, tier: f.tier, placement: f.placement }, figure(f));
              continue;
            }
            const key = `${f.region}\u0000${f.tier}\u0000${f.placement}`;
            others.set(key, sum ? (others.get(key) ?? 0) + figure(f) : Math.max(others.get(key) ?? 0, figure(f)));
          }
          for (const [key, value] of others) {
            const [region = '', tier = '', placement = ''] = key.split('\u0000');
            g.set({ clinic: 'other', region, tier, placement }, value);
          }
        },
      });
    perClinic('polyclinic_clinic_recent_requests', 'Requests of a clinic over the last one to two minutes', (f) => f.requests, true);
    perClinic('polyclinic_clinic_recent_errors', '5xx answers of a clinic over the last one to two minutes', (f) => f.errors, true);
    perClinic(
      'polyclinic_clinic_recent_refusals',
      '429 and 503 answers of a clinic (quota, share, breaker) recently',
      (f) => f.refused,
      true,
    );
    perClinic(
      'polyclinic_clinic_recent_p95_seconds',
      'A clinic’s 95th percentile answer time recently (other: the worst)',
      (f) => f.p95Ms / 1000,
      false,
    );
    new Gauge({
      name: 'polyclinic_db_pool_connections',
      help: 'Connections of this node’s pools (total, idle, waiting requests): each region pool, and clinics’ own pools together',
      labelNames: ['pool', 'state'],
      registers,
      collect() {
        this.reset();
        for (const s of sources.poolStats()) {
          this.set({ pool: s.pool, state: 'total' }, s.total);
          this.set({ pool: s.pool, state: 'idle' }, s.idle);
          this.set({ pool: s.pool, state: 'waiting' }, s.waiting);
        }
      },
    });
    new Gauge({
      name: 'polyclinic_store_breakers_open',
      help: 'Stores whose circuit breaker is open on this node',
      registers,
      collect() {
        this.set(sources.openBreakers().length);
      },
    });
    new Gauge({
      name: 'polyclinic_clinic_directory_cache_entries',
      help: 'Clinics held in this node’s clinic directory cache',
      registers,
      collect() {
        this.set(sources.cachedClinics());
      },
    });
  }

  /** One answered request (the app's onResponse hook). */
  observe(req: FastifyRequest, reply: FastifyReply): void {
    const route = req.routeOptions.url ?? 'unmatched';
    const clinic = this.sources.clinicOf(req);
    const series = this.seriesOf(route, req.method, reply.statusCode, clinic);
    series.requests.inc();
    series.durations.observe(reply.elapsedTime / 1000);
    if (clinic) this.stats.note(clinic, reply.statusCode, reply.elapsedTime);
  }

  /** One append to a clinic's audit chain in `region` (`audit/appender.ts`): its wall time and its records. */
  observeAppend(region: string, seconds: number, records: number): void {
    let series = this.appendSeries.get(region);
    if (!series) {
      series = { seconds: this.appendSeconds.labels({ region }), records: this.appendRecords.labels({ region }) };
      this.appendSeries.set(region, series);
    }
    series.seconds.observe(seconds);
    series.records.observe(records);
  }

  /**
   * The children of one label set, looked up once: prom-client hashes and checks a label object on every
   * `inc`/`observe` given one, which was a measurable part of a request's own work (`docs/benchmarks.md`). The
   * label sets are bounded (route templates × methods × statuses × regions × tiers × placements), so is this map.
   */
  private seriesOf(route: string, method: string, status: number, clinic: Clinic | undefined): Series {
    const key = clinic
      ? `${route}\u0000${method}\u0000${status}\u0000${clinic.dataRegion}\u0000${clinic.tier}\u0000${clinic.placement.model}`
      : `${route}\u0000${method}\u0000${status}`;
    let series = this.series.get(key);
    if (!series) {
      const where = clinic
        ? { region: clinic.dataRegion, tier: clinic.tier, placement: clinic.placement.model }
        : { region: NONE, tier: NONE, placement: NONE };
      series = {
        requests: this.requests.labels({ route, method, status: String(status), ...where }),
        durations: this.durations.labels({ route, method, ...where }),
      };
      this.series.set(key, series);
    }
    return series;
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
