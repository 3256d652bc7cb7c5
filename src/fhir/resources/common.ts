import { sql } from 'kysely';
import type { IdKind } from '../../ids.js';
import { dateConditions, referenceConditions, tokenConditions } from '../search.js';
import { ourId, type SearchParam } from '../resource-def.js';

/** Parameters every resource type takes, over its own columns. */
export const idParam = (column: string, kind: IdKind): SearchParam => ({
  type: 'token',
  documentation: 'The logical id (comma-separated for several)',
  where: (values, name) =>
    tokenConditions(
      column,
      values.map((v) =>
        v
          .split(',')
          .map((x) => ourId(x, kind) ?? '-')
          .join(','),
      ),
      name,
    ),
});

export const lastUpdatedParam = (column: string): SearchParam => ({
  type: 'date',
  documentation: 'When the resource last changed (eq/ne/gt/lt/ge/le prefixes)',
  where: (values, name) => dateConditions(column, values, name),
});

export const patientParam = (column: string): SearchParam => ({
  type: 'reference',
  documentation: 'The patient (Patient/{id})',
  where: (values, name) => referenceConditions(column, values, name, 'Patient', (id) => ourId(id, 'patient')),
});

export const dateParam = (column: string, documentation: string): SearchParam => ({
  type: 'date',
  documentation,
  where: (values, name) => dateConditions(column, values, name),
});

export const statusParam = (column: string, documentation: string, toOurs: Record<string, string[]>): SearchParam => ({
  type: 'token',
  documentation,
  where: (values) =>
    values.map((v) => {
      const ours = v.split(',').flatMap((s) => toOurs[s.includes('|') ? s.slice(s.indexOf('|') + 1) : s] ?? []);
      return ours.length ? sql<boolean>`${sql.ref(column)} in (${sql.join(ours)})` : sql<boolean>`false`;
    }),
});

/** A staff member by their user id (a logical reference: not every clinician is a bookable provider). */
export const userRef = (userId: string) => ({
  type: 'Practitioner' as const,
  identifier: { system: 'urn:polyclinic:user', value: userId },
});
