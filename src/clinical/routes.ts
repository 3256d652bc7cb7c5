import type { Kysely } from 'kysely';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { PhiAccess } from '../audit/trail.js';
import type { ControlDB } from '../controlplane/schema.js';
import { auditAs, type PhiRequest } from '../http/clinic-scope.js';
import { problemResponses } from '../http/problem.js';
import { idSchema } from '../ids.js';
import { diagnosesOf, recordDiagnosis } from './diagnoses.js';
import { closeEncounter, findEncounter, listEncounters, openEncounter, recordsOf, requireClinician, toEncounter } from './encounters.js';
import { addAddendum, createNote, getNote, notesOf, signNote, updateDraft } from './notes.js';
import { issuePrescription, prescriptionsOf } from './prescriptions.js';
import {
  AddendumInput,
  Diagnosis,
  DiagnosisInput,
  Encounter,
  EncounterInput,
  EncounterListQuery,
  EncounterPage,
  EncounterRecord,
  items,
  Note,
  NoteInput,
  NotePatch,
  Prescription,
  PrescriptionInput,
  Vitals,
  VitalsInput,
} from './schemas.js';
import { recordVitals, vitalsOf } from './vitals.js';

const EncounterParams = z.strictObject({ encounterId: idSchema('encounter') });
const NoteParams = z.strictObject({ encounterId: idSchema('encounter'), noteId: idSchema('note') });
const tags = ['clinical'];

/** What a record route touches, before it knows the patient (the encounter names it; the result fills it in). */
const access = (
  action: PhiAccess['action'],
  resourceType: string,
  encounterId: string | null,
  resourceId: string | null = null,
): PhiAccess => ({
  action,
  resourceType,
  resourceId,
  patientId: null,
  detail: encounterId ? { encounterId } : {},
});
/** The same, for a route under `/encounters/:encounterId`. */
const inEncounter =
  (action: PhiAccess['action'], resourceType: string, resourceParam?: 'encounterId' | 'noteId', detail: Record<string, string> = {}) =>
  ({ params }: PhiRequest): PhiAccess => {
    const encounterId = params.encounterId ?? null;
    const base = access(
      action,
      resourceType,
      resourceParam === 'encounterId' ? null : encounterId,
      resourceParam ? (params[resourceParam] ?? null) : null,
    );
    return Object.keys(detail).length ? { ...base, detail: { ...(encounterId ? { encounterId } : {}), ...detail } } : base;
  };

/** Names the record an access created or read, and its patient, from the result. */
const identify = (r: { id: string; patientId: string }): Partial<PhiAccess> => ({ resourceId: r.id, patientId: r.patientId });
/** A list of one kind of record of an encounter, audited as a search with its patient and count. */
const counted = (r: { patientId: string; items: unknown[] }): Partial<PhiAccess> => ({
  patientId: r.patientId,
  detail: { count: r.items.length },
});

/**
 * HTTP routes of the clinical record: encounters and, inside each, notes (with signing and addenda), vitals,
 * prescriptions and diagnoses. They live in the clinic-scoped plugin, which checks membership (else 404) and
 * the declared permission (else 403, recorded as a denied access) before the handler runs; each works in one
 * tenant transaction of `req.clinic`, which leaves one audit record with its outcome.
 */
export const clinicalRoutes =
  (deps: { control: Kysely<ControlDB> }): FastifyPluginAsyncZod =>
  async (app) => {
    // ---- encounters

    app.post('/encounters', {
      config: {
        permission: 'encounter.write',
        phi: auditAs(({ body }) => ({ ...access('create', 'Encounter', null), patientId: (body as { patientId: string }).patientId })),
      },
      schema: {
        tags,
        summary: 'Open an encounter for a patient with a clinician',
        body: EncounterInput,
        response: { 201: Encounter, ...problemResponses },
      },
      handler: async (req, reply) => {
        const { clinic } = req;
        const encounter = await clinic.write(
          async (scope) => {
            await requireClinician(deps.control, clinic.id, req.body.providerId);
            return openEncounter(scope, req.body, clinic.userId);
          },
          (e) => ({ resourceId: e.id }),
        );
        return reply.code(201).header('location', `/api/v1/clinics/${clinic.id}/encounters/${encounter.id}`).send(encounter);
      },
    });

    app.get('/encounters', {
      config: {
        permission: 'encounter.read',
        // Written while the read runs: the patient and the query's shape, not the number of encounters found.
        phi: auditAs(({ query }) => ({
          ...access('search', 'Encounter', null),
          patientId: (query.patientId as string | undefined) ?? null,
          detail: { limit: Number(query.limit), ...(query.status ? { byStatus: true } : {}) },
        })),
      },
      schema: {
        tags,
        summary: 'Search encounters (by patient, status, date)',
        querystring: EncounterListQuery,
        response: { 200: EncounterPage, ...problemResponses },
      },
      handler: async (req) => req.clinic.read((scope) => listEncounters(scope, req.query)),
    });

    app.get('/encounters/:encounterId', {
      config: { permission: 'encounter.read', phi: auditAs(inEncounter('read', 'Encounter', 'encounterId')) },
      schema: {
        tags,
        summary: 'One encounter with the records the caller’s role may read',
        params: EncounterParams,
        response: { 200: EncounterRecord, ...problemResponses },
      },
      handler: async (req) => {
        const { clinic } = req;
        // The encounter carries the records the caller's role may read and leaves out the others.
        return clinic.read(
          async (scope) => {
            const encounter = await findEncounter(scope, req.params.encounterId);
            return {
              ...toEncounter(encounter),
              ...(clinic.may('clinical_note.read') ? { notes: await notesOf(scope, encounter) } : {}),
              ...(clinic.may('vitals.read') ? { vitals: await vitalsOf(scope, encounter) } : {}),
              ...(clinic.may('prescription.read') ? { prescriptions: await prescriptionsOf(scope, encounter) } : {}),
              ...(clinic.may('diagnosis.read') ? { diagnoses: await diagnosesOf(scope, encounter) } : {}),
            };
          },
          (r) => ({
            patientId: r.patientId,
            detail: Object.fromEntries(
              (['notes', 'vitals', 'prescriptions', 'diagnoses'] as const).flatMap((k) => (r[k] ? [[k, r[k].length]] : [])),
            ),
          }),
        );
      },
    });

    app.post('/encounters/:encounterId/close', {
      config: {
        permission: 'encounter.write',
        phi: auditAs(({ params }) => ({
          ...access('update', 'Encounter', null, params.encounterId ?? null),
          detail: { status: 'closed' },
        })),
      },
      schema: { tags, summary: 'Close an encounter', params: EncounterParams, response: { 200: Encounter, ...problemResponses } },
      handler: async (req) =>
        req.clinic.write(
          (scope) => closeEncounter(scope, req.params.encounterId, req.clinic.userId),
          (e) => ({ patientId: e.patientId }),
        ),
    });

    // ---- notes

    app.get('/encounters/:encounterId/notes', {
      config: { permission: 'clinical_note.read', phi: auditAs(inEncounter('search', 'ClinicalNote')) },
      schema: { tags, summary: 'The notes of an encounter', params: EncounterParams, response: { 200: items(Note), ...problemResponses } },
      handler: async (req) => ({
        items: (await req.clinic.read((scope) => recordsOf(scope, req.params.encounterId, notesOf), counted)).items,
      }),
    });

    app.post('/encounters/:encounterId/notes', {
      config: { permission: 'clinical_note.write', phi: auditAs(inEncounter('create', 'ClinicalNote')) },
      schema: {
        tags,
        summary: 'Start a draft SOAP note',
        params: EncounterParams,
        body: NoteInput,
        response: { 201: Note, ...problemResponses },
      },
      handler: async (req, reply) => {
        const { encounterId } = req.params;
        const note = await req.clinic.write((scope) => createNote(scope, encounterId, req.body, req.clinic.userId), identify);
        return reply.code(201).header('location', `/api/v1/clinics/${req.clinic.id}/encounters/${encounterId}/notes/${note.id}`).send(note);
      },
    });

    app.get('/encounters/:encounterId/notes/:noteId', {
      config: { permission: 'clinical_note.read', phi: auditAs(inEncounter('read', 'ClinicalNote', 'noteId')) },
      schema: { tags, summary: 'One note with its addenda', params: NoteParams, response: { 200: Note, ...problemResponses } },
      handler: async (req) => req.clinic.read((scope) => getNote(scope, req.params.encounterId, req.params.noteId), identify),
    });

    app.patch('/encounters/:encounterId/notes/:noteId', {
      config: {
        permission: 'clinical_note.write',
        // Which sections changed, never their text.
        phi: auditAs((req) =>
          inEncounter('update', 'ClinicalNote', 'noteId', {
            sections: Object.keys(req.body as object)
              .filter((k) => k !== 'version')
              .sort()
              .join(','),
          })(req),
        ),
      },
      schema: {
        tags,
        summary: 'Edit a draft note (check-and-set on version)',
        params: NoteParams,
        body: NotePatch,
        response: { 200: Note, ...problemResponses },
      },
      handler: async (req) =>
        req.clinic.write((scope) => updateDraft(scope, req.params.encounterId, req.params.noteId, req.body, req.clinic.userId), identify),
    });

    app.post('/encounters/:encounterId/notes/:noteId/sign', {
      config: { permission: 'clinical_note.write', phi: auditAs(inEncounter('update', 'ClinicalNote', 'noteId', { status: 'signed' })) },
      schema: {
        tags,
        summary: 'Sign a note; it cannot change afterwards, only receive addenda',
        params: NoteParams,
        response: { 200: Note, ...problemResponses },
      },
      handler: async (req) =>
        req.clinic.write((scope) => signNote(scope, req.params.encounterId, req.params.noteId, req.clinic.userId), identify),
    });

    app.post('/encounters/:encounterId/notes/:noteId/addenda', {
      config: { permission: 'clinical_note.write', phi: auditAs(inEncounter('update', 'ClinicalNote', 'noteId')) },
      schema: {
        tags,
        summary: 'Add an addendum to a signed note',
        params: NoteParams,
        body: AddendumInput,
        response: { 201: Note, ...problemResponses },
      },
      handler: async (req, reply) => {
        const { encounterId, noteId } = req.params;
        const { note } = await req.clinic.write(
          (scope) => addAddendum(scope, encounterId, noteId, req.body.text, req.clinic.userId),
          (r) => ({ patientId: r.note.patientId, detail: { addendumId: r.addendum.id } }),
        );
        return reply.code(201).header('location', `/api/v1/clinics/${req.clinic.id}/encounters/${encounterId}/notes/${note.id}`).send(note);
      },
    });

    // ---- vitals, prescriptions, diagnoses: recorded in an open encounter, listed per encounter

    app.get('/encounters/:encounterId/vitals', {
      config: { permission: 'vitals.read', phi: auditAs(inEncounter('search', 'Vitals')) },
      schema: {
        tags,
        summary: 'The vitals recorded in an encounter',
        params: EncounterParams,
        response: { 200: items(Vitals), ...problemResponses },
      },
      handler: async (req) => ({
        items: (await req.clinic.read((scope) => recordsOf(scope, req.params.encounterId, vitalsOf), counted)).items,
      }),
    });

    app.post('/encounters/:encounterId/vitals', {
      config: { permission: 'vitals.write', phi: auditAs(inEncounter('create', 'Vitals')) },
      schema: {
        tags,
        summary: 'Record vitals (LOINC-coded, UCUM units)',
        params: EncounterParams,
        body: VitalsInput,
        response: { 201: Vitals, ...problemResponses },
      },
      handler: async (req, reply) =>
        reply
          .code(201)
          .send(await req.clinic.write((scope) => recordVitals(scope, req.params.encounterId, req.body, req.clinic.userId), identify)),
    });

    app.get('/encounters/:encounterId/prescriptions', {
      config: { permission: 'prescription.read', phi: auditAs(inEncounter('search', 'Prescription')) },
      schema: {
        tags,
        summary: 'The prescriptions issued in an encounter',
        params: EncounterParams,
        response: { 200: items(Prescription), ...problemResponses },
      },
      handler: async (req) => ({
        items: (await req.clinic.read((scope) => recordsOf(scope, req.params.encounterId, prescriptionsOf), counted)).items,
      }),
    });

    app.post('/encounters/:encounterId/prescriptions', {
      config: { permission: 'prescription.write', phi: auditAs(inEncounter('create', 'Prescription')) },
      schema: {
        tags,
        summary: 'Issue a prescription',
        params: EncounterParams,
        body: PrescriptionInput,
        response: { 201: Prescription, ...problemResponses },
      },
      handler: async (req, reply) =>
        reply
          .code(201)
          .send(await req.clinic.write((scope) => issuePrescription(scope, req.params.encounterId, req.body, req.clinic.userId), identify)),
    });

    app.get('/encounters/:encounterId/diagnoses', {
      config: { permission: 'diagnosis.read', phi: auditAs(inEncounter('search', 'Diagnosis')) },
      schema: {
        tags,
        summary: 'The diagnoses recorded in an encounter',
        params: EncounterParams,
        response: { 200: items(Diagnosis), ...problemResponses },
      },
      handler: async (req) => ({
        items: (await req.clinic.read((scope) => recordsOf(scope, req.params.encounterId, diagnosesOf), counted)).items,
      }),
    });

    app.post('/encounters/:encounterId/diagnoses', {
      config: { permission: 'diagnosis.write', phi: auditAs(inEncounter('create', 'Diagnosis')) },
      schema: {
        tags,
        summary: 'Record a diagnosis (ICD-10)',
        params: EncounterParams,
        body: DiagnosisInput,
        response: { 201: Diagnosis, ...problemResponses },
      },
      handler: async (req, reply) =>
        reply
          .code(201)
          .send(await req.clinic.write((scope) => recordDiagnosis(scope, req.params.encounterId, req.body, req.clinic.userId), identify)),
    });
  };
