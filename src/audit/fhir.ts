import type { AuditEvent } from './search.js';

/**
 * An audit record as a FHIR R4 `AuditEvent` shaped after IHE Basic Audit Log Patterns (BALP). Our columns
 * map as follows:
 *
 * | record                 | AuditEvent                                                              |
 * | ---------------------- | ----------------------------------------------------------------------- |
 * | action                 | type `rest` + subtype restful-interaction (export: DCM 110106), action |
 * | outcome                | outcome (0 success, 4 denied, 8 failure) + outcomeDesc                  |
 * | recordedAt             | recorded                                                                |
 * | purposeOfUse           | purposeOfEvent (v3-ActReason)                                           |
 * | actorId, actorRole     | agent[user].who.identifier, agent[user].role                            |
 * | clientAddress          | agent[user].network (type 2: IP address)                                |
 * | clinicId, region       | source.site, source.observer                                            |
 * | resourceType/Id        | entity[role 4 domain resource].what                                     |
 * | patientId              | entity[role 1 patient].what (BALP "patient" slice)                      |
 * | requestId              | entity[type BasicAuditEntityType#XrequestId].what.identifier            |
 * | detail                 | entity[resource or query].detail                                        |
 * | seq, prevHash, hash    | extension (polyclinic audit chain; seq as a string: R4 has no integer64) |
 *
 * Ids are written as FHIR ids (`pat_…` becomes `pat-…`: FHIR ids have no underscore), as the FHIR API
 * (`src/fhir/`) reads them.
 */
const fhirId = (id: string): string => id.replace('_', '-');

export function toFhirAuditEvent(e: AuditEvent, clinicId: string): Record<string, unknown> {
  const rest = e.action !== 'export';
  const interaction = { read: 'read', search: 'search-type', create: 'create', update: 'update', delete: 'delete', export: 'read' }[
    e.action
  ];
  const profile = rest
    ? { read: 'PatientRead', search: 'PatientQuery', create: 'PatientCreate', update: 'PatientUpdate', delete: 'PatientDelete' }[
        e.action as Exclude<AuditEvent['action'], 'export'>
      ]
    : undefined;
  const detail = Object.entries(e.detail).map(([type, v]) => ({ type, valueString: String(v) }));
  const entity: Record<string, unknown>[] = [];
  if (e.patientId)
    entity.push({
      what: { reference: `Patient/${fhirId(e.patientId)}` },
      type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '1', display: 'Person' },
      role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '1', display: 'Patient' },
    });
  entity.push({
    what: e.resourceId ? { reference: `${e.resourceType}/${fhirId(e.resourceId)}` } : { type: e.resourceType },
    type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '2', display: 'System Object' },
    role:
      e.action === 'search'
        ? { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '24', display: 'Query' }
        : { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '4', display: 'Domain Resource' },
    ...(detail.length ? { detail } : {}),
  });
  if (e.requestId)
    entity.push({
      what: { identifier: { value: e.requestId } },
      type: { system: 'https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType', code: 'XrequestId' },
    });
  return {
    resourceType: 'AuditEvent',
    id: fhirId(e.id),
    ...(profile ? { meta: { profile: [`https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.${profile}`] } } : {}),
    extension: [
      {
        url: 'https://polyclinic.dev/fhir/StructureDefinition/audit-chain',
        extension: [
          { url: 'seq', valueString: String(e.seq) },
          { url: 'prevHash', valueString: e.prevHash },
          { url: 'hash', valueString: e.hash },
        ],
      },
    ],
    type: rest
      ? { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest', display: 'RESTful Operation' }
      : { system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110106', display: 'Export' },
    ...(rest ? { subtype: [{ system: 'http://hl7.org/fhir/restful-interaction', code: interaction }] } : {}),
    action: { read: 'R', search: 'E', create: 'C', update: 'U', delete: 'D', export: 'R' }[e.action],
    recorded: e.recordedAt,
    outcome: e.outcome === 'success' ? '0' : e.outcome === 'denied' ? '4' : '8',
    ...(e.outcome === 'success' ? {} : { outcomeDesc: e.outcome }),
    purposeOfEvent: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: e.purposeOfUse }] }],
    agent: [
      {
        type: {
          coding: [
            { system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'IRCP', display: 'information recipient' },
          ],
        },
        who: { identifier: { system: 'urn:polyclinic:user', value: e.actorId } },
        ...(e.actorRole ? { role: [{ coding: [{ system: 'urn:polyclinic:role', code: e.actorRole }] }] } : {}),
        requestor: e.actorId !== 'system',
        ...(e.clientAddress ? { network: { address: e.clientAddress, type: '2' } } : {}),
      },
    ],
    source: {
      site: clinicId,
      observer: { display: 'Polyclinic' },
      type: [{ system: 'http://terminology.hl7.org/CodeSystem/security-source-type', code: '4', display: 'Application Server' }],
    },
    entity,
  };
}
