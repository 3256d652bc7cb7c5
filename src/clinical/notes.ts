import type { Selectable } from 'kysely';
import { pgErrorCode } from '../db/pg.js';
import { AppError, conflict, notFound } from '../errors.js';
import { emit } from '../events/outbox.js';
import { newId } from '../ids.js';
import type { TenantScope } from '../tenancy/tenant-db.js';
import { findEncounter, openEncounterForWriting, type EncounterRow } from './encounters.js';
import type { ClinicalNoteAddendaTable, ClinicalNotesTable } from './migration.js';
import type { Addendum, Note, NoteInput, NotePatch } from './schemas.js';

type NoteRow = Selectable<ClinicalNotesTable>;
type AddendumRow = Selectable<ClinicalNoteAddendaTable>;

/**
 * SOAP notes. A note is the author's own: only its author edits the draft and only its author signs it.
 * Signing freezes it for good; later knowledge is added as addenda (author, time, text), never by editing.
 * The database refuses an UPDATE of a signed note too (trigger, SQLSTATE PCN01), so no path around this
 * service can rewrite a signed note.
 */
const SIGNED_NOTE = 'PCN01';
const noteSigned = () => conflict('note_signed', 'The note is signed and can no longer be edited; add an addendum instead');

export async function createNote(scope: TenantScope, encounterId: string, input: NoteInput, authorId: string): Promise<Note> {
  const encounter = await openEncounterForWriting(scope, encounterId);
  const row = await scope.db
    .insertInto('clinical_notes')
    .values({
      clinic_id: scope.clinicId,
      id: newId('note'),
      encounter_id: encounterId,
      author_id: authorId,
      subjective: input.subjective ?? null,
      objective: input.objective ?? null,
      assessment: input.assessment ?? null,
      plan: input.plan ?? null,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  await emit(scope, 'clinical_note.drafted', { noteId: row.id, encounterId, authorId });
  return toNote(row, encounter, []);
}

export async function updateDraft(
  scope: TenantScope,
  encounterId: string,
  noteId: string,
  patch: NotePatch,
  actorId: string,
): Promise<Note> {
  const { encounter, note } = await lockNote(scope, encounterId, noteId);
  if (note.status === 'signed') throw noteSigned();
  if (note.author_id !== actorId) throw new AppError(403, 'not_note_author', 'Only the author of a draft note may edit it');
  if (patch.version !== undefined && patch.version !== note.version)
    throw conflict('version_conflict', 'The note was changed since you read it; reload and retry');
  const set: Partial<Pick<NoteRow, 'subjective' | 'objective' | 'assessment' | 'plan'>> = {};
  if (patch.subjective !== undefined) set.subjective = patch.subjective;
  if (patch.objective !== undefined) set.objective = patch.objective;
  if (patch.assessment !== undefined) set.assessment = patch.assessment;
  if (patch.plan !== undefined) set.plan = patch.plan;
  const row = await guarded(() =>
    scope.db
      .updateTable('clinical_notes')
      .set((eb) => ({ ...set, version: eb('version', '+', 1), updated_at: new Date() }))
      .where('id', '=', noteId)
      .where('status', '=', 'draft')
      .returningAll()
      .executeTakeFirstOrThrow(),
  );
  await emit(scope, 'clinical_note.updated', { noteId, encounterId, sections: Object.keys(set) as (keyof typeof set)[] });
  return toNote(row, encounter, []);
}

export async function signNote(scope: TenantScope, encounterId: string, noteId: string, actorId: string): Promise<Note> {
  const { encounter, note } = await lockNote(scope, encounterId, noteId);
  if (note.status === 'signed') throw noteSigned();
  if (note.author_id !== actorId) throw new AppError(403, 'not_note_author', 'Only the author of a note may sign it');
  if (![note.subjective, note.objective, note.assessment, note.plan].some((s) => s && s.trim().length > 0))
    throw conflict('note_empty', 'An empty note cannot be signed');
  const now = new Date();
  const row = await guarded(() =>
    scope.db
      .updateTable('clinical_notes')
      .set((eb) => ({ status: 'signed', signed_at: now, updated_at: now, version: eb('version', '+', 1) }))
      .where('id', '=', noteId)
      .where('status', '=', 'draft')
      .returningAll()
      .executeTakeFirstOrThrow(),
  );
  await emit(scope, 'clinical_note.signed', { noteId, encounterId, authorId: actorId });
  return toNote(row, encounter, []);
}

/** Addenda go to signed notes only (a draft is simply edited), also after the encounter is closed. */
export async function addAddendum(
  scope: TenantScope,
  encounterId: string,
  noteId: string,
  text: string,
  authorId: string,
): Promise<{ addendum: Addendum; note: Note }> {
  const { encounter, note } = await lockNote(scope, encounterId, noteId);
  if (note.status !== 'signed') throw conflict('note_not_signed', 'A draft note is edited, not amended; addenda follow signing');
  const row = await scope.db
    .insertInto('clinical_note_addenda')
    .values({ clinic_id: scope.clinicId, id: newId('addendum'), note_id: noteId, author_id: authorId, text })
    .returningAll()
    .executeTakeFirstOrThrow();
  await emit(scope, 'clinical_note.addendum_added', { noteId, addendumId: row.id, authorId });
  const addenda = await addendaOf(scope, [noteId]);
  return { addendum: toAddendum(row), note: toNote(note, encounter, addenda.get(noteId) ?? []) };
}

export async function getNote(scope: TenantScope, encounterId: string, noteId: string): Promise<Note> {
  const encounter = await findEncounter(scope, encounterId);
  const note = await scope.db
    .selectFrom('clinical_notes')
    .selectAll()
    .where('id', '=', noteId)
    .where('encounter_id', '=', encounterId)
    .executeTakeFirst();
  if (!note) throw notFound('note');
  const addenda = await addendaOf(scope, [noteId]);
  return toNote(note, encounter, addenda.get(noteId) ?? []);
}

export async function notesOf(scope: TenantScope, encounter: EncounterRow): Promise<Note[]> {
  const notes = await scope.db
    .selectFrom('clinical_notes')
    .selectAll()
    .where('encounter_id', '=', encounter.id)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  const addenda = await addendaOf(
    scope,
    notes.map((n) => n.id),
  );
  return notes.map((n) => toNote(n, encounter, addenda.get(n.id) ?? []));
}

/** The note, locked for this transaction (FOR UPDATE), inside the encounter named by the path. */
async function lockNote(scope: TenantScope, encounterId: string, noteId: string): Promise<{ encounter: EncounterRow; note: NoteRow }> {
  const encounter = await findEncounter(scope, encounterId);
  const note = await scope.db
    .selectFrom('clinical_notes')
    .selectAll()
    .where('id', '=', noteId)
    .where('encounter_id', '=', encounterId)
    .forUpdate()
    .executeTakeFirst();
  if (!note) throw notFound('note');
  if (note.status === 'draft') await openEncounterForWriting(scope, encounterId);
  return { encounter, note };
}

/** The trigger's refusal, should a race ever reach it, answers like the service's own check. */
async function guarded<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (pgErrorCode(err) === SIGNED_NOTE) throw noteSigned();
    throw err;
  }
}

async function addendaOf(scope: TenantScope, noteIds: string[]): Promise<Map<string, Addendum[]>> {
  const byNote = new Map<string, Addendum[]>();
  if (noteIds.length === 0) return byNote;
  const rows = await scope.db
    .selectFrom('clinical_note_addenda')
    .selectAll()
    .where('note_id', 'in', noteIds)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  for (const r of rows) byNote.set(r.note_id, [...(byNote.get(r.note_id) ?? []), toAddendum(r)]);
  return byNote;
}

function toAddendum(r: AddendumRow): Addendum {
  return { id: r.id, noteId: r.note_id, authorId: r.author_id, text: r.text, createdAt: r.created_at.toISOString() };
}

function toNote(r: NoteRow, encounter: EncounterRow, addenda: Addendum[]): Note {
  return {
    id: r.id,
    encounterId: r.encounter_id,
    patientId: encounter.patient_id,
    authorId: r.author_id,
    status: r.status,
    subjective: r.subjective,
    objective: r.objective,
    assessment: r.assessment,
    plan: r.plan,
    version: r.version,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
    signedAt: r.signed_at?.toISOString() ?? null,
    addenda,
  };
}
