import { ErrorCode, type EvaluationContext, type JsonValue, type Provider, type ResolutionDetails } from '@openfeature/server-sdk';
import type { ClinicDirectory } from '../controlplane/clinics.js';
import type { FeatureState, FlagService, FlagSubject } from './service.js';

/**
 * An OpenFeature provider over our flags, so code written against `@openfeature/server-sdk` (a worker, an
 * integration) reads the same flags. Our own request handling calls `FlagService` directly and does not pay
 * for this layer. The caller names the clinic (`clinicId`) and the user (`targetingKey`); everything else
 * about the clinic (region, tier, specialty) comes from the control plane, never from the caller.
 *
 * Typed values come from the resolved variant: its name for strings, its payload for numbers and objects.
 */
export class PolyclinicFlagProvider implements Provider {
  readonly metadata = { name: 'polyclinic' } as const;
  readonly runsOn = 'server' as const;

  constructor(
    private readonly flags: FlagService,
    private readonly clinics: ClinicDirectory,
  ) {}

  async resolveBooleanEvaluation(flagKey: string, defaultValue: boolean, context: EvaluationContext): Promise<ResolutionDetails<boolean>> {
    return this.resolve(flagKey, defaultValue, context, (state) => state.enabled);
  }

  async resolveStringEvaluation(flagKey: string, defaultValue: string, context: EvaluationContext): Promise<ResolutionDetails<string>> {
    return this.resolve(flagKey, defaultValue, context, (state) => (state.variant.enabled ? state.variant.name : undefined));
  }

  async resolveNumberEvaluation(flagKey: string, defaultValue: number, context: EvaluationContext): Promise<ResolutionDetails<number>> {
    return this.resolve(flagKey, defaultValue, context, (state) => {
      const p = state.variant.payload;
      if (!state.variant.enabled || !p) return undefined;
      const n = Number(p.value);
      if (p.type !== 'number' || !Number.isFinite(n)) throw new TypeError('variant payload is not a number');
      return n;
    });
  }

  async resolveObjectEvaluation<T extends JsonValue>(
    flagKey: string,
    defaultValue: T,
    context: EvaluationContext,
  ): Promise<ResolutionDetails<T>> {
    return this.resolve(flagKey, defaultValue, context, (state) => {
      const p = state.variant.payload;
      if (!state.variant.enabled || !p) return undefined;
      if (p.type !== 'json') throw new TypeError('variant payload is not JSON');
      return JSON.parse(p.value) as T;
    });
  }

  private async resolve<T>(
    flagKey: string,
    defaultValue: T,
    context: EvaluationContext,
    pick: (state: FeatureState) => T | undefined,
  ): Promise<ResolutionDetails<T>> {
    const clinicId = typeof context.clinicId === 'string' ? context.clinicId : undefined;
    const clinic = clinicId ? await this.clinics.get(clinicId) : undefined;
    if (!clinic)
      return {
        value: defaultValue,
        reason: 'ERROR',
        errorCode: ErrorCode.INVALID_CONTEXT,
        errorMessage: 'context.clinicId must name an existing clinic',
      };
    const subject: FlagSubject = {
      clinic,
      userId: context.targetingKey ?? null,
      role: typeof context.role === 'string' ? context.role : null,
    };
    const state = await this.flags.evaluate(flagKey, subject);
    if (state.reason === 'unknown flag')
      return { value: defaultValue, reason: 'ERROR', errorCode: ErrorCode.FLAG_NOT_FOUND, errorMessage: `no flag ${flagKey}` };
    try {
      const value = pick(state);
      if (value === undefined)
        return { value: defaultValue, reason: state.enabled ? 'DEFAULT' : 'DISABLED', flagMetadata: { why: state.reason } };
      return {
        value,
        reason: state.reason.startsWith('kill switch') ? 'DISABLED' : 'TARGETING_MATCH',
        ...(state.variant.enabled ? { variant: state.variant.name } : {}),
        flagMetadata: { why: state.reason },
      };
    } catch (err) {
      return { value: defaultValue, reason: 'ERROR', errorCode: ErrorCode.TYPE_MISMATCH, errorMessage: (err as Error).message };
    }
  }
}
