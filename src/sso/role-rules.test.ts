import { describe, expect, it } from 'vitest';
import { attributesFromClaims, decideSsoRole, type SsoRoleRule } from './role-rules.js';

const rules: SsoRoleRule[] = [
  { attribute: 'groups', equals: 'Prescribers', role: 'physician' },
  { attribute: 'groups', equals: 'Nursing', role: 'nurse' },
  { attribute: 'department', equals: 'front desk', role: 'scheduler' },
];

describe('SSO role rules', () => {
  it('lets the first matching rule decide, comparing values without case', () => {
    const d = decideSsoRole(rules, null, { groups: ['nursing', 'PRESCRIBERS'] });
    expect(d).toEqual({ role: 'physician', decidedBy: 'rule', ruleIndex: 0, matched: { attribute: 'groups', value: 'PRESCRIBERS' } });
    expect(decideSsoRole(rules, null, { department: ['Front Desk'] }).role).toBe('scheduler');
  });

  it('falls back to the default role, or denies without one', () => {
    expect(decideSsoRole(rules, 'billing', { groups: ['Other'] })).toMatchObject({ role: 'billing', decidedBy: 'default' });
    expect(decideSsoRole(rules, null, { groups: ['Other'] })).toMatchObject({ role: null, decidedBy: 'deny' });
    expect(decideSsoRole([], null, {})).toMatchObject({ role: null, decidedBy: 'deny' });
  });

  it('does not match an attribute of another name', () => {
    expect(decideSsoRole(rules, null, { roles: ['Prescribers'] }).decidedBy).toBe('deny');
  });

  it('turns OIDC claims into string lists and ignores nested objects', () => {
    expect(attributesFromClaims({ groups: ['a', 'b'], email_verified: true, age: 3, address: { x: 1 }, sub: 's' })).toEqual({
      groups: ['a', 'b'],
      email_verified: ['true'],
      age: ['3'],
      sub: ['s'],
    });
  });
});
