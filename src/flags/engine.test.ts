import { describe, expect, it } from 'vitest';
import { FlagEngine } from './engine.js';
import type { FeatureDefinition, UnleashContext } from './types.js';

const clinicIds = Array.from({ length: 2000 }, (_, n) => `cln_${String(n).padStart(5, '0')}`);

function engineWith(...features: FeatureDefinition[]): FlagEngine {
  return new FlagEngine({ version: 2, features, segments: [] });
}

const videoVisitsForNorthside: FeatureDefinition = {
  name: 'video-visits',
  enabled: true,
  strategies: [
    {
      name: 'default',
      constraints: [{ contextName: 'clinicId', operator: 'IN', values: ['cln_northside'] }],
    },
  ],
};

describe('FlagEngine', () => {
  it('turns a flag on for the clinic it targets and not for another clinic', () => {
    const flags = engineWith(videoVisitsForNorthside);
    expect(flags.isEnabled('video-visits', { clinicId: 'cln_northside', userId: 'usr_1' })).toBe(true);
    expect(flags.isEnabled('video-visits', { clinicId: 'cln_riverside', userId: 'usr_1' })).toBe(false);
    // The clinic may also arrive under `properties`, as Unleash's own SDKs put custom fields.
    expect(flags.isEnabled('video-visits', { properties: { clinicId: 'cln_northside' } })).toBe(true);
    // No clinic in the context: a targeted flag stays off.
    expect(flags.isEnabled('video-visits', { userId: 'usr_1' })).toBe(false);
  });

  it('grants a beta to named users, whichever clinic they are working in', () => {
    const flags = engineWith(
      { name: 'ai-scribe-beta', enabled: true, strategies: [{ name: 'userWithId', parameters: { userIds: 'usr_ada, usr_grace' } }] },
      {
        name: 'e-prescribing-beta',
        enabled: true,
        strategies: [{ name: 'default', constraints: [{ contextName: 'userId', operator: 'IN', values: ['usr_ada'] }] }],
      },
    );
    for (const clinicId of ['cln_northside', 'cln_riverside']) {
      expect(flags.isEnabled('ai-scribe-beta', { userId: 'usr_grace', clinicId })).toBe(true);
      expect(flags.isEnabled('e-prescribing-beta', { userId: 'usr_ada', clinicId })).toBe(true);
    }
    expect(flags.isEnabled('ai-scribe-beta', { userId: 'usr_linus' })).toBe(false);
    expect(flags.isEnabled('e-prescribing-beta', { userId: 'usr_grace' })).toBe(false);
  });

  it('rolls out to 30% of clinics, each clinic keeping its answer across engines', () => {
    const rollout: FeatureDefinition = {
      name: 'new-scheduling-ui',
      enabled: true,
      strategies: [
        {
          name: 'flexibleRollout',
          parameters: { rollout: '30', stickiness: 'clinicId', groupId: 'new-scheduling-ui' },
        },
      ],
    };
    // Two engines built separately, as two API nodes would from the same snapshot.
    const nodeA = engineWith(structuredClone(rollout));
    const nodeB = engineWith(structuredClone(rollout));
    let on = 0;
    for (const clinicId of clinicIds) {
      // Different users of the same clinic all see the clinic's answer.
      const answer = nodeA.isEnabled('new-scheduling-ui', { clinicId, userId: 'usr_1' });
      expect(nodeB.isEnabled('new-scheduling-ui', { clinicId, userId: 'usr_2' })).toBe(answer);
      expect(nodeA.isEnabled('new-scheduling-ui', { clinicId, userId: 'usr_3' })).toBe(answer);
      if (answer) on++;
    }
    expect(on / clinicIds.length).toBeGreaterThan(0.26);
    expect(on / clinicIds.length).toBeLessThan(0.34);
    // A context without the stickiness field is not part of a clinic rollout.
    expect(nodeA.isEnabled('new-scheduling-ui', { userId: 'usr_1' })).toBe(false);
  });

  it('lets the kill switch override all targeting', () => {
    const targeted: FeatureDefinition = {
      name: 'video-visits',
      enabled: false,
      strategies: [
        ...(videoVisitsForNorthside.strategies ?? []),
        { name: 'default' },
        { name: 'userWithId', parameters: { userIds: 'usr_ada' } },
      ],
      variants: [{ name: 'hd', weight: 1000, payload: { type: 'string', value: '1080p' } }],
    };
    const flags = engineWith(targeted);
    const contexts: UnleashContext[] = [{ clinicId: 'cln_northside' }, { userId: 'usr_ada' }, {}];
    for (const context of contexts) {
      expect(flags.isEnabled('video-visits', context)).toBe(false);
      expect(flags.getVariant('video-visits', context)).toEqual({
        name: 'disabled',
        enabled: false,
        feature_enabled: false,
      });
    }
    expect(engineWith({ ...targeted, enabled: true }).isEnabled('video-visits', {})).toBe(true);
  });

  it('answers the fallback for a flag the snapshot does not have', () => {
    const flags = engineWith(videoVisitsForNorthside);
    expect(flags.isEnabled('not-in-snapshot', {})).toBe(false);
    expect(flags.isEnabled('not-in-snapshot', {}, true)).toBe(true);
  });

  it('gives a clinic the same variant on every request', () => {
    const flags = engineWith({
      name: 'waiting-room-layout',
      enabled: true,
      strategies: [],
      variants: [
        { name: 'list', weight: 500, stickiness: 'clinicId', payload: { type: 'string', value: 'list' } },
        { name: 'grid', weight: 500, stickiness: 'clinicId', payload: { type: 'string', value: 'grid' } },
      ],
    });
    const names = new Set<string>();
    for (const clinicId of clinicIds.slice(0, 200)) {
      const first = flags.getVariant('waiting-room-layout', { clinicId, userId: 'usr_1' });
      expect(flags.getVariant('waiting-room-layout', { clinicId, userId: 'usr_2' })).toBe(first);
      names.add(first.name);
    }
    expect(names).toEqual(new Set(['list', 'grid']));
  });
});
