import { describe, expect, it } from 'vitest';
import { AppError } from '../errors.js';
import { parseScimFilter } from './filter.js';
import { applyPatch, readOperations } from './patch.js';
import { canonicalize } from './resource.js';
import { ENTERPRISE_USER, USER_KIND } from './schemas.js';

/** The PATCH engine, canonicalisation and filter parsing on their own, without a server. */
const user = () =>
  canonicalize(
    {
      userName: 'bjensen',
      active: true,
      name: { givenName: 'Barbara', familyName: 'Jensen' },
      emails: [
        { value: 'bjensen@work.example', type: 'work', primary: true },
        { value: 'babs@home.example', type: 'home' },
      ],
    },
    USER_KIND,
  );
const patch = (...ops: Record<string, unknown>[]) => applyPatch(user(), readOperations({ Operations: ops }), USER_KIND);
const scimTypeOf = (run: () => unknown): unknown => {
  try {
    run();
  } catch (err) {
    return err instanceof AppError ? err.extra.scimType : err;
  }
  return undefined;
};

describe('canonicalisation', () => {
  it('spells attributes as the schema does, coerces Entra strings, drops unknown, read-only and password', () => {
    const out = canonicalize(
      {
        UserName: 'x',
        Active: 'False',
        Emails: [
          { Value: 'a@b.example', Primary: 'true' },
          { value: 'c@d.example', primary: true },
        ],
        password: 'secret',
        groups: [{ value: 'grp' }],
        id: 'usr_forged',
        adreses: [{}],
        [ENTERPRISE_USER]: { Department: 'ICU', Manager: 'emp-7' },
      },
      USER_KIND,
    );
    expect(out).toEqual({
      userName: 'x',
      active: false,
      emails: [
        { value: 'a@b.example', primary: true },
        { value: 'c@d.example', primary: false },
      ],
      [ENTERPRISE_USER]: { department: 'ICU', manager: { value: 'emp-7' } },
    });
  });
});

describe('PATCH', () => {
  it('adds to a multi-valued attribute, moving primary to the new value', () => {
    const out = patch({ op: 'add', path: 'emails', value: [{ value: 'new@work.example', type: 'work', primary: true }] });
    expect(out.emails).toEqual([
      { value: 'bjensen@work.example', type: 'work', primary: false },
      { value: 'babs@home.example', type: 'home' },
      { value: 'new@work.example', type: 'work', primary: true },
    ]);
  });

  it('replaces a filtered element, or one sub-attribute of it; creates the work email when there is none', () => {
    expect(patch({ op: 'replace', path: 'emails[type eq "home"]', value: { value: 'b@home.example', type: 'home' } }).emails).toEqual([
      { value: 'bjensen@work.example', type: 'work', primary: true },
      { value: 'b@home.example', type: 'home' },
    ]);
    const created = applyPatch(
      canonicalize({ userName: 'x' }, USER_KIND),
      readOperations({ Operations: [{ op: 'Replace', path: 'emails[type eq "work"].value', value: 'x@w.example' }] }),
      USER_KIND,
    );
    expect(created.emails).toEqual([{ type: 'work', value: 'x@w.example' }]);
  });

  it('removes filtered values, listed values (Entra) and whole attributes', () => {
    expect(patch({ op: 'remove', path: 'emails[type eq "home"]' }).emails).toEqual([
      { value: 'bjensen@work.example', type: 'work', primary: true },
    ]);
    expect(patch({ op: 'Remove', path: 'emails', value: [{ value: 'BJENSEN@work.example' }] }).emails).toEqual([
      { value: 'babs@home.example', type: 'home' },
    ]);
    expect(patch({ op: 'remove', path: 'emails' }).emails).toBeUndefined();
    expect(patch({ op: 'remove', path: 'name.givenName' }).name).toEqual({ familyName: 'Jensen' });
  });

  it('merges complex values and extension objects, path-less or not', () => {
    const out = patch(
      { op: 'replace', value: { name: { givenName: 'Babs' }, [ENTERPRISE_USER]: { employeeNumber: '701984' } } },
      { op: 'add', path: `${ENTERPRISE_USER}:manager.value`, value: 'usr_boss' },
    );
    expect(out.name).toEqual({ givenName: 'Babs', familyName: 'Jensen' });
    expect(out[ENTERPRISE_USER]).toEqual({ employeeNumber: '701984', manager: { value: 'usr_boss' } });
  });

  it('refuses what it cannot apply, with the RFC scimType', () => {
    expect(scimTypeOf(() => patch({ op: 'remove' }))).toBe('noTarget');
    expect(scimTypeOf(() => patch({ op: 'replace', path: 'groups', value: [] }))).toBe('mutability');
    expect(scimTypeOf(() => patch({ op: 'replace', path: 'name.nickname', value: 'x' }))).toBe('invalidPath');
    expect(scimTypeOf(() => patch({ op: 'remove', path: 'userName' }))).toBe('invalidValue');
    expect(scimTypeOf(() => patch({ op: 'move', path: 'userName' }))).toBe('invalidSyntax');
    expect(scimTypeOf(() => readOperations({ Operations: [] }))).toBe('invalidSyntax');
  });
});

describe('filter parsing', () => {
  it('reads unquoted values and keeps a value path with a sub-attribute on one value', () => {
    expect(parseScimFilter('name.familyName eq Employee and meta.created gt 2015-10-10T14:38:21.8617979-07:00')).toEqual({
      op: 'and',
      filters: [
        { op: 'eq', attrPath: 'name.familyName', compValue: 'Employee' },
        { op: 'gt', attrPath: 'meta.created', compValue: '2015-10-10T14:38:21.8617979-07:00' },
      ],
    });
    expect(parseScimFilter('emails[type eq "work" or type eq "other"].value co "@x"')).toEqual({
      op: '[]',
      attrPath: 'emails',
      valFilter: {
        op: 'and',
        filters: [
          {
            op: 'or',
            filters: [
              { op: 'eq', attrPath: 'type', compValue: 'work' },
              { op: 'eq', attrPath: 'type', compValue: 'other' },
            ],
          },
          { op: 'co', attrPath: 'value', compValue: '@x' },
        ],
      },
    });
    expect(parseScimFilter('active eq true')).toEqual({ op: 'eq', attrPath: 'active', compValue: true });
  });

  it('refuses garbage as invalidFilter', () => {
    for (const bad of ['RUNSCOPE@ATKO.COM', 'userName eq', '(userName eq "x"', 'a eq "b" c'])
      expect(scimTypeOf(() => parseScimFilter(bad))).toBe('invalidFilter');
  });
});
