import type { FastifyReply, FastifyRequest } from 'fastify';
import { SpanKind, SpanStatusCode, type Span, type Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Clinic } from '../controlplane/clinics.js';

/**
 * OpenTelemetry traces, off unless `POLYCLINIC_OTLP_TRACES_URL` names an OTLP/HTTP collector: one server span per
 * request, named by its route template, carrying the clinic, its placement, region and tier as attributes, so a
 * trace backend can slice latency by clinic as the metrics cannot (they bound their clinic series). Spans are
 * batched and exported in the background; `close` flushes them. The provider is this platform's own, not the
 * process-global one (tests run several platforms in one process). Database spans are not recorded yet.
 */
export class FleetTracing {
  private readonly provider: BasicTracerProvider;
  private readonly tracer: Tracer;
  private readonly spans = new WeakMap<FastifyRequest, Span>();

  constructor(
    url: string,
    attributes: { instance: string },
    private readonly clinicOf: (req: FastifyRequest) => Clinic | undefined,
  ) {
    this.provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'polyclinic', 'service.instance.id': attributes.instance }),
      spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url }), { scheduledDelayMillis: 1000 })],
    });
    this.tracer = this.provider.getTracer('polyclinic');
  }

  start(req: FastifyRequest): void {
    this.spans.set(
      req,
      this.tracer.startSpan(`${req.method} ${req.routeOptions.url ?? 'unmatched'}`, {
        kind: SpanKind.SERVER,
        attributes: { 'http.request.method': req.method, 'http.route': req.routeOptions.url ?? 'unmatched' },
      }),
    );
  }

  end(req: FastifyRequest, reply: FastifyReply): void {
    const span = this.spans.get(req);
    if (!span) return;
    const clinic = this.clinicOf(req);
    span.setAttribute('http.response.status_code', reply.statusCode);
    if (clinic)
      span.setAttributes({
        'polyclinic.clinic.id': clinic.id,
        'polyclinic.clinic.tier': clinic.tier,
        'polyclinic.clinic.region': clinic.dataRegion,
        'polyclinic.clinic.placement': clinic.placement.model,
      });
    if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
  }

  flush(): Promise<void> {
    return this.provider.forceFlush();
  }

  close(): Promise<void> {
    return this.provider.shutdown();
  }
}
