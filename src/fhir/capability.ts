import type { CapabilityStatement } from '@medplum/fhirtypes';
import { PATIENT_REVINCLUDES, RESOURCES, WRITABLE } from './resources.js';

/**
 * The CapabilityStatement, generated from the same resource list the routes are registered from
 * (`resources.ts`): what it says is supported is exactly what is routed, parameter by parameter.
 */
export function capabilityStatement(baseUrl: string, tokenUrl: string, authorizeUrl: string): CapabilityStatement {
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: '2026-12-05',
    kind: 'instance',
    publisher: 'Polyclinic',
    software: { name: 'Polyclinic' },
    implementation: { description: 'One clinic’s FHIR R4 API', url: baseUrl },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json'],
    rest: [
      {
        mode: 'server',
        security: {
          cors: false,
          service: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR' }] }],
          description:
            'A staff session (the member’s own permissions), a SMART Backend Services access token (system/ scopes), or the ' +
            'token of an app launched standalone with PKCE (user/ scopes within the member’s permissions; patient/ scopes, ' +
            'read-only, confined to the signed-in patient’s compartment).',
          extension: [
            {
              url: 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris',
              extension: [
                { url: 'token', valueUri: tokenUrl },
                { url: 'authorize', valueUri: authorizeUrl },
              ],
            },
          ],
        },
        // Bulk Data: system, Patient and Group level (`$export`, `Patient/$export`, `Group/{id}/$export`); see fhir/export-routes.ts.
        operation: [{ name: 'export', definition: 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export' }],
        resource: RESOURCES.map((r) => {
          const writes: readonly string[] = (WRITABLE as Record<string, readonly string[]>)[r.type] ?? [];
          return {
            type: r.type,
            interaction: [
              { code: 'read' as const },
              { code: 'search-type' as const },
              ...writes.map((code) => ({ code: code as 'create' | 'update' })),
            ],
            ...(writes.includes('update') ? { versioning: 'versioned-update' as const, updateCreate: false } : {}),
            ...(writes.includes('create') ? { conditionalCreate: false } : {}),
            ...(r.includes ? { searchInclude: Object.keys(r.includes) } : {}),
            ...(r.type === 'Patient' ? { searchRevInclude: [...PATIENT_REVINCLUDES] } : {}),
            ...(r.type === 'Patient'
              ? { operation: [{ name: 'export', definition: 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export' }] }
              : {}),
            ...(r.type === 'Group'
              ? { operation: [{ name: 'export', definition: 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export' }] }
              : {}),
            searchParam: Object.entries(r.params).map(([name, p]) => ({ name, type: p.type, documentation: p.documentation })),
          };
        }),
      },
    ],
  };
}
