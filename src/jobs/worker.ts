import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { ClaimedJob, JobQueue } from './queue.js';

/** What a handler gets beside its job: a way to report progress (it also keeps the lease). */
export interface JobContext {
  progress(value: unknown): Promise<void>;
}

export type JobHandler = (job: ClaimedJob, ctx: JobContext) => Promise<void>;

export interface WorkerOptions {
  /** Jobs run at once by this process. */
  concurrency: number;
  /** How often an idle worker looks for due jobs (enqueues in this process wake it at once). */
  pollMs: number;
}

/**
 * Runs jobs from the queue: `concurrency` at a time, each by the handler registered for its kind. Domains
 * register their kinds at composition (`handle`); `main.ts` starts the worker, tests start their own.
 * While a job runs its lease is renewed, so only a dead or hung process lets it go to another worker.
 */
export class JobWorker {
  readonly id = `w_${randomBytes(6).toString('hex')}`;
  private readonly handlers = new Map<string, JobHandler>();
  private readonly running = new Set<Promise<void>>();
  private loop: Promise<void> | undefined;
  private stopping = false;
  private wakeUp: (() => void) | undefined;
  private unlisten: (() => void) | undefined;

  constructor(
    private readonly queue: JobQueue,
    private readonly opts: WorkerOptions,
    private readonly log: Logger,
  ) {}

  handle(kind: string, handler: JobHandler): void {
    if (this.handlers.has(kind)) throw new Error(`job kind ${kind} already has a handler`);
    this.handlers.set(kind, handler);
  }

  start(): void {
    if (this.loop || this.opts.concurrency <= 0) return;
    this.abandoned = false;
    this.stopping = false;
    this.unlisten = this.queue.onEnqueue(() => this.wakeUp?.());
    this.loop = this.run();
  }

  /**
   * Stops claiming and waits for running jobs. `abandon` stops without waiting or acknowledging, as a crashed
   * process would: its jobs stay claimed until their leases lapse (tests use it to show a job survives).
   */
  async stop(opts: { abandon?: boolean } = {}): Promise<void> {
    this.stopping = true;
    this.unlisten?.();
    this.wakeUp?.();
    if (opts.abandon) {
      this.abandoned = true;
      for (const lease of this.leases) clearInterval(lease);
      return;
    }
    await this.loop;
    await Promise.allSettled([...this.running]);
    this.loop = undefined;
  }

  private abandoned = false;
  private readonly leases = new Set<NodeJS.Timeout>();

  private async run(): Promise<void> {
    let lastSweep = 0;
    while (!this.stopping) {
      try {
        if (Date.now() - lastSweep >= this.opts.pollMs) {
          lastSweep = Date.now();
          await this.queue.releaseLapsed();
        }
        while (!this.stopping && this.running.size < this.opts.concurrency) {
          const job = await this.queue.claim(this.id, [...this.handlers.keys()]);
          if (!job) break;
          const run = this.execute(job).finally(() => {
            this.running.delete(run);
            this.wakeUp?.();
          });
          this.running.add(run);
        }
      } catch (err) {
        this.log.error({ err }, 'job queue unreachable; trying again');
      }
      if (this.stopping) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.opts.pollMs);
        this.wakeUp = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wakeUp = undefined;
    }
  }

  private async execute(job: ClaimedJob): Promise<void> {
    const handler = this.handlers.get(job.kind);
    const lease = setInterval(() => void this.queue.renew(job).catch(() => {}), Math.max(50, this.queue.opts.leaseMs / 3));
    this.leases.add(lease);
    const log = this.log.child({ jobId: job.id, kind: job.kind, clinicId: job.clinicId, attempt: job.attempt });
    try {
      if (!handler) throw new Error(`no handler for job kind ${job.kind}`);
      await handler(job, { progress: (value) => this.queue.progress(job, value) });
      if (this.abandoned) return;
      if (!(await this.queue.complete(job))) log.warn('job finished after its lease was taken over');
    } catch (err) {
      if (this.abandoned) return;
      const outcome = await this.queue.fail(job, err).catch(() => 'lost' as const);
      (outcome === 'dead' ? log.error.bind(log) : log.warn.bind(log))({ err, outcome }, 'job failed');
    } finally {
      clearInterval(lease);
      this.leases.delete(lease);
    }
  }
}
