import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { principalOf } from '../access/guard.js';
import { membershipAllows } from '../access/effective.js';
import type { Permission } from '../access/roles.js';
import { audited, requirePhiPermission, type PhiAccess } from '../audit/trail.js';
import { problemResponses } from '../http/problem.js';
import { idSchema } from '../ids.js';
import type { Platform } from '../platform/platform.js';
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

const ClinicParams = z.strictObject({ clinicId: idSchema('clinic') });
const EncounterParams = z.strictObject({ clinicId: idSchema('clinic'), encounterId: idSchema('encounter') });
const NoteParams = z.strictObject({ clinicId: idSchema('clinic'), encounterId: idSchema('encounter'), noteId: idSchema('note') });
const tags = ['clinical'];
const security = [{ bearer: [] }];
const base = '/api/v1/clinics/:clinicId/encounters';

/** What a record route touches, before it knows the patient (the encounter names it; `audited` fills it in). */
const access = (action: PhiAccess['action'], resourceType: string, encounterId: string | null, resourceId: string | null = null): PhiAccess => ({
  action,
  resourceType,
  resourceId,
  patientId: null,
  detail: encounterId ? { encounterId } : {},
});

/**
 * HTTP routes of the clinical record: encounters and, inside each, notes (with signing and addenda), vitals,
 * prescriptions and diagnoses. Every route passes the guard first (member of the clinic, else 404; role
 * allows the action, else 403, recorded as a denied access), works in one tenant transaction, and leaves
 * one audit record with its outcome.
 */
export const clinicalRoutes =
  (p: Platform): FastifyPluginAsyncZod =>
  async (app) => {
    const guard = (req: FastifyRequest, clinicId: string, permission: Permission, what: PhiAccess) => requirePhiPermission(p, req, clinicId, permission, what);

    // ---- encounters

    app.post(base, {
      schema: { tags, security, params: ClinicParams, body: EncounterInput, response: { 201: Encounter, ...problemResponses } },
      handler: async (req, reply) => {
        const { clinicId } = req.params;
        const what: PhiAccess = { ...access('create', 'Encounter', null), patientId: req.body.patientId };
        await guard(req, clinicId, 'encounter.write', what);
        const actor = principalOf(req).userId;
        const encounter = await audited(
          p,
          clinicId,
          what,
          async () => {
            await requireClinician(p.control, clinicId, req.body.providerId);
            return p.stores.transaction(clinicId, 'write', (scope) => openEncounter(scope, req.body, actor));
          },
          (e) => ({ resourceId: e.id }),
        );
        return reply.code(201).header('location', `/api/v1/clinics/${clinicId}/encounters/${encounter.id}`).send(encounter);
      },
    });

    app.get(base, {
      schema: { tags, security, params: ClinicParams, querystring: EncounterListQuery, response: { 200: EncounterPage, ...problemResponses } },
      handler: async (req) => {
        const { clinicId } = req.params;
        const what: PhiAccess = { ...access('search', 'Encounter', null), patientId: req.query.patientId };
        await guard(req, clinicId, 'encounter.read', what);
        return audited(
          p,
          clinicId,
          what,
          () => p.stores.transaction(clinicId, 'read', (scope) => listEncounters(scope, req.query)),
          (page) => ({ detail: { count: page.items.length } }),
        );
      },
    });

    app.get(`${base}/:encounterId`, {
      schema: { tags, security, params: EncounterParams, response: { 200: EncounterRecord, ...problemResponses } },
      handler: async (req) => {
        const { clinicId, encounterId } = req.params;
        const what = access('read', 'Encounter', null, encounterId);
        const membership = await guard(req, clinicId, 'encounter.read', what);
        const may = (permission: Permission) => membershipAllows(membership, permission);
        // The encounter carries the records the caller's role may read and leaves out the others.
        return audited(
          p,
          clinicId,
          what,
          () =>
            p.stores.transaction(clinicId, 'read', async (scope) => {
              const encounter = await findEncounter(scope, encounterId);
              return {
                ...toEncounter(encounter),
                ...(may('clinical_note.read') ? { notes: await notesOf(scope, encounter) } : {}),
                ...(may('vitals.read') ? { vitals: await vitalsOf(scope, encounter) } : {}),
                ...(may('prescription.read') ? { prescriptions: await prescriptionsOf(scope, encounter) } : {}),
                ...(may('diagnosis.read') ? { diagnoses: await diagnosesOf(scope, encounter) } : {}),
              };
            }),
          (r) => ({
            patientId: r.patientId,
            detail: Object.fromEntries(
              (['notes', 'vitals', 'prescriptions', 'diagnoses'] as const).flatMap((k) => (r[k] ? [[k, r[k].length]] : [])),
            ),
          }),
        );
      },
    });

    app.post(`${base}/:encounterId/close`, {
      schema: { tags, security, params: EncounterParams, response: { 200: Encounter, ...problemResponses } },
      handler: async (req) => {
        const { clinicId, encounterId } = req.params;
        const what: PhiAccess = { ...access('update', 'Encounter', null, encounterId), detail: { status: 'closed' } };
        await guard(req, clinicId, 'encounter.write', what);
        const actor = principalOf(req).userId;
        return audited(p, clinicId, what, () => p.stores.transaction(clinicId, 'write', (scope) => closeEncounter(scope, encounterId, actor)), (e) => ({ patientId: e.patientId }));
      },
    });

    // ---- notes

    app.get(`${base}/:encounterId/notes`, {
      schema: { tags, security, params: EncounterParams, response: { 200: items(Note), ...problemResponses } },
      handler: async (req) => {
        const { clinicId, encounterId } = req.params;
        const what = access('search', 'ClinicalNote', encounterId);
        await guard(req, clinicId, 'clinical_note.read', what);
        return listed(what, clinicId, () => p.stores.transaction(clinicId, 'read', (scope) => recordsOf(scope, encounterId, notesOf)));
      },
    });

    app.post(`${base}/:encounterId/notes`, {
      schema: { tags, security, params: EncounterParams, body: NoteInput, response: { 201: Note, ...problemResponses } },
      handler: async (req, reply) => {
        const { clinicId, encounterId } = req.params;
        const what = access('create', 'ClinicalNote', encounterId);
        await guard(req, clinicId, 'clinical_note.write', what);
        const actor = principalOf(req).userId;
        const note = await audited(p, clinicId, what, () => p.stores.transaction(clinicId, 'write', (scope) => createNote(scope, encounterId, req.body, actor)), identify);
        return reply.code(201).header('location', `/api/v1/clinics/${clinicId}/encounters/${encounterId}/notes/${note.id}`).send(note);
      },
    });

    app.get(`${base}/:encounterId/notes/:noteId`, {
      schema: { tags, security, params: NoteParams, response: { 200: Note, ...problemResponses } },
      handler: async (req) => {
        const { clinicId, encounterId, noteId } = req.params;
        const what = access('read', 'ClinicalNote', encounterId, noteId);
        await guard(req, clinicId, 'clinical_note.read', what);
        return audited(p, clinicId, what, () => p.stores.transaction(clinicId, 'read', (scope) => getNote(scope, encounterId, noteId)), identify);
      },
    });

    app.patch(`${base}/:encounterId/notes/:noteId`, {
      schema: { tags, security, params: NoteParams, body: NotePatch, response: { 200: Note, ...problemResponses } },
      handler: async (req) => {
        const { clinicId, encounterId, noteId } = req.params;
        // Which sections changed, never their text.
        const sections = Object.keys(req.body).filter((k) => k !== 'version').sort().join(',');
        const what: PhiAccess = { ...access('update', 'ClinicalNote', encounterId, noteId), detail: { encounterId, sections } };
        await guard(req, clinicId, 'clinical_note.write', what);
        const actor = principalOf(req).userId;
        return audited(p, clinicId, what, () => p.stores.transaction(clinicId, 'write', (scope) => updateDraft(scope, encounterId, noteId, req.body, actor)), identify);
      },
    });

    app.post(`${base}/:encounterId/notes/:noteId/sign`, {
      schema: { tags, security, params: NoteParams, response: { 200: Note, ...problemResponses } },
      handler: async (req) => {
        const { clinicId, encounterId, noteId } = req.params;
        const what: PhiAccess = { ...access('update', 'ClinicalNote', encounterId, noteId), detail: { encounterId, status: 'signed' } };
        await guard(req, clinicId, 'clinical_note.write', what);
        const actor = principalOf(req).userId;
        return audited(p, clinicId, what, () => p.stores.transaction(clinicId, 'write', (scope) => signNote(scope, encounterId, noteId, actor)), identify);
      },
    });

    app.post(`${base}/:encounterId/notes/:noteId/addenda`, {
      schema: { tags, security, params: NoteParams, body: AddendumInput, response: { 201: Note, ...problemResponses } },
      handler: async (req, reply) => {
        const { clinicId, encounterId, noteId } = req.params;
        const what = access('update', 'ClinicalNote', encounterId, noteId);
        await guard(req, clinicId, 'clinical_note.write', what);
        const actor = principalOf(req).userId;
        const { note } = await audited(
          p,
          clinicId,
          what,
          () => p.stores.transaction(clinicId, 'write', (scope) => addAddendum(scope, encounterId, noteId, req.body.text, actor)),
          (r) => ({ patientId: r.note.patientId, detail: { addendumId: r.addendum.id } }),
        );
        return reply.code(201).header('location', `/api/v1/clinics/${clinicId}/encounters/${encounterId}/notes/${note.id}`).send(note);
      },
    });

    // ---- vitals, prescriptions, diagnoses: recorded in an open encounter, listed per encounter

    app.get(`${base}/:encounterId/vitals`, {
      schema: { tags, security, params: EncounterParams, response: { 200: items(Vitals), ...problemResponses } },
      handler: async (req) => {
        const { clinicId, encounterId } = req.params;
        const what = access('search', 'Vitals', encounterId);
        await guard(req, clinicId, 'vitals.read', what);
        return listed(what, clinicId, () => p.stores.transaction(clinicId, 'read', (scope) => recordsOf(scope, encounterId, vitalsOf)));
      },
    });

    app.post(`${base}/:encounterId/vitals`, {
      schema: { tags, security, params: EncounterParams, body: VitalsInput, response: { 201: Vitals, ...problemResponses } },
      handler: async (req, reply) => {
        const { clinicId, encounterId } = req.params;
        const what = access('create', 'Vitals', encounterId);
        await guard(req, clinicId, 'vitals.write', what);
        const actor = principalOf(req).userId;
        const vitals = await audited(p, clinicId, what, () => p.stores.transaction(clinicId, 'write', (scope) => recordVitals(scope, encounterId, req.body, actor)), identify);
        return reply.code(201).send(vitals);
      },
    });

    app.get(`${base}/:encounterId/prescriptions`, {
      schema: { tags, security, params: EncounterParams, response: { 200: items(Prescription), ...problemResponses } },
      handler: async (req) => {
        const { clinicId, encounterId } = req.params;
        const what = access('search', 'Prescription', encounterId);
        await guard(req, clinicId, 'prescription.read', what);
        return listed(what, clinicId, () => p.stores.transaction(clinicId, 'read', (scope) => recordsOf(scope, encounterId, prescriptionsOf)));
      },
    });

    app.post(`${base}/:encounterId/prescriptions`, {
      schema: { tags, security, params: EncounterParams, body: PrescriptionInput, response: { 201: Prescription, ...problemResponses } },
      handler: async (req, reply) => {
        const { clinicId, encounterId } = req.params;
        const what = access('create', 'Prescription', encounterId);
        await guard(req, clinicId, 'prescription.write', what);
        const actor = principalOf(req).userId;
        const rx = await audited(p, clinicId, what, () => p.stores.transaction(clinicId, 'write', (scope) => issuePrescription(scope, encounterId, req.body, actor)), identify);
        return reply.code(201).send(rx);
      },
    });

    app.get(`${base}/:encounterId/diagnoses`, {
      schema: { tags, security, params: EncounterParams, response: { 200: items(Diagnosis), ...problemResponses } },
      handler: async (req) => {
        const { clinicId, encounterId } = req.params;
        const what = access('search', 'Diagnosis', encounterId);
        await guard(req, clinicId, 'diagnosis.read', what);
        return listed(what, clinicId, () => p.stores.transaction(clinicId, 'read', (scope) => recordsOf(scope, encounterId, diagnosesOf)));
      },
    });

    app.post(`${base}/:encounterId/diagnoses`, {
      schema: { tags, security, params: EncounterParams, body: DiagnosisInput, response: { 201: Diagnosis, ...problemResponses } },
      handler: async (req, reply) => {
        const { clinicId, encounterId } = req.params;
        const what = access('create', 'Diagnosis', encounterId);
        await guard(req, clinicId, 'diagnosis.write', what);
        const actor = principalOf(req).userId;
        const dx = await audited(p, clinicId, what, () => p.stores.transaction(clinicId, 'write', (scope) => recordDiagnosis(scope, encounterId, req.body, actor)), identify);
        return reply.code(201).send(dx);
      },
    });

    /** A list of one kind of record of an encounter, audited as a search with its patient and count. */
    async function listed<T>(what: PhiAccess, clinicId: string, run: () => Promise<{ patientId: string; items: T[] }>): Promise<{ items: T[] }> {
      const { items: list } = await audited(p, clinicId, what, run, (r) => ({ patientId: r.patientId, detail: { count: r.items.length } }));
      return { items: list };
    }
  };

/** Names the record an access created or read, and its patient, from the result. */
const identify = (r: { id: string; patientId: string }): Partial<PhiAccess> => ({ resourceId: r.id, patientId: r.patientId });
