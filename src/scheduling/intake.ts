import type { Selectable } from 'kysely';
import { AppError, badRequest, conflict, notFound } from '../errors.js';
import { newId } from '../ids.js';
import { emit } from '../events/outbox.js';
import type { IntakeField } from '../settings/namespaces.js';
import type { TenantScope } from '../tenancy/tenant-db.js';
import { getAppointmentRow } from './appointments.js';
import type { IntakeResponsesTable, QuestionnaireItemRow, QuestionnairesTable } from './migration.js';
import type { IntakeResponse, IntakeResponseInput, Questionnaire, QuestionnaireInput, QuestionnaireUpdate } from './schemas.js';
import { isCalendarDate } from './zones.js';

/**
 * Intake: the clinic's questionnaires, and the answers a patient gives before a visit, attached to the
 * appointment. The clinic's `intake.requiredFields` setting names fields every questionnaire must ask and
 * every response must answer; it is checked when a questionnaire is saved and again when a response is
 * submitted (the setting may have grown since). A resubmission adds a new response; the latest is current.
 */

/** Items as stored: keys unique, choice items with options, the clinic's required fields present and required. */
function normaliseItems(items: QuestionnaireInput['items'], required: readonly IntakeField[]): QuestionnaireItemRow[] {
  const seen = new Set<string>();
  for (const item of items) {
    if (seen.has(item.key))
      throw badRequest('questionnaire_duplicate_key', `The item key "${item.key}" appears twice`, { field: item.key });
    seen.add(item.key);
    const choice = item.type === 'single_choice' || item.type === 'multiple_choice';
    if (choice && !item.options)
      throw badRequest('questionnaire_item_invalid', `The ${item.type} item "${item.key}" needs at least two options`, { field: item.key });
    if (!choice && item.options)
      throw badRequest('questionnaire_item_invalid', `Only choice items have options; "${item.key}" is ${item.type}`, { field: item.key });
  }
  for (const field of required)
    if (!seen.has(field))
      throw badRequest('intake_required_field_missing', `This clinic requires every questionnaire to ask "${field}"`, { field });
  return items.map((i) => ({
    key: i.key,
    label: i.label,
    type: i.type,
    required: i.required || (required as readonly string[]).includes(i.key),
    ...(i.options ? { options: i.options } : {}),
  }));
}

export async function createQuestionnaire(
  scope: TenantScope,
  input: QuestionnaireInput,
  required: readonly IntakeField[],
): Promise<Questionnaire> {
  const row = await scope.db
    .insertInto('questionnaires')
    .values({
      clinic_id: scope.clinicId,
      id: newId('questionnaire'),
      title: input.title,
      description: input.description ?? null,
      items: JSON.stringify(normaliseItems(input.items, required)),
      active: input.active,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  await emit(scope, 'questionnaire.created', { questionnaireId: row.id, version: row.version });
  return toQuestionnaire(row);
}

export async function updateQuestionnaire(
  scope: TenantScope,
  id: string,
  input: QuestionnaireUpdate,
  required: readonly IntakeField[],
): Promise<Questionnaire> {
  const items = normaliseItems(input.items, required);
  let q = scope.db
    .updateTable('questionnaires')
    .set((eb) => ({
      title: input.title,
      description: input.description ?? null,
      items: JSON.stringify(items),
      active: input.active,
      version: eb('version', '+', 1),
      updated_at: new Date(),
    }))
    .where('id', '=', id);
  if (input.version !== undefined) q = q.where('version', '=', input.version);
  const row = await q.returningAll().executeTakeFirst();
  if (row) {
    await emit(scope, 'questionnaire.updated', { questionnaireId: id, version: row.version });
    return toQuestionnaire(row);
  }
  await getQuestionnaireRow(scope, id);
  throw new AppError(409, 'version_conflict', 'The questionnaire was changed since you read it; reload and retry');
}

async function getQuestionnaireRow(scope: TenantScope, id: string): Promise<Selectable<QuestionnairesTable>> {
  const row = await scope.db.selectFrom('questionnaires').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw notFound('questionnaire');
  return row;
}

export async function getQuestionnaire(scope: TenantScope, id: string): Promise<Questionnaire> {
  return toQuestionnaire(await getQuestionnaireRow(scope, id));
}

export async function listQuestionnaires(scope: TenantScope): Promise<{ items: Questionnaire[] }> {
  const rows = await scope.db.selectFrom('questionnaires').selectAll().orderBy('id').limit(500).execute();
  return { items: rows.map(toQuestionnaire) };
}

const CLOSED = new Set(['completed', 'cancelled', 'no_show']);

export async function submitIntake(
  scope: TenantScope,
  appointmentId: string,
  input: IntakeResponseInput,
  required: readonly IntakeField[],
): Promise<IntakeResponse> {
  const appointment = await getAppointmentRow(scope, appointmentId);
  if (CLOSED.has(appointment.status))
    throw conflict('appointment_closed', `Intake cannot be submitted for an appointment that is ${appointment.status.replace('_', ' ')}`);
  const questionnaire = await getQuestionnaireRow(scope, input.questionnaireId);
  if (!questionnaire.active) throw conflict('questionnaire_inactive', 'This questionnaire is no longer in use');
  const answers = checkAnswers(questionnaire.items, input.answers, required);
  const row = await scope.db
    .insertInto('intake_responses')
    .values({
      clinic_id: scope.clinicId,
      id: newId('intakeResponse'),
      appointment_id: appointmentId,
      questionnaire_id: questionnaire.id,
      questionnaire_version: questionnaire.version,
      patient_id: appointment.patient_id,
      answers: JSON.stringify(answers),
      submitted_by: scope.actorId,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  await emit(scope, 'intake.submitted', { appointmentId, responseId: row.id, questionnaireId: questionnaire.id });
  return toIntakeResponse(row);
}

export async function listIntakeResponses(scope: TenantScope, appointmentId: string): Promise<{ items: IntakeResponse[] }> {
  await getAppointmentRow(scope, appointmentId);
  const rows = await scope.db
    .selectFrom('intake_responses')
    .selectAll()
    .where('appointment_id', '=', appointmentId)
    .orderBy('submitted_at', 'desc')
    .orderBy('id', 'desc')
    .execute();
  return { items: rows.map(toIntakeResponse) };
}

export async function getIntakeResponse(scope: TenantScope, appointmentId: string, id: string): Promise<IntakeResponse> {
  const row = await scope.db
    .selectFrom('intake_responses')
    .selectAll()
    .where('appointment_id', '=', appointmentId)
    .where('id', '=', id)
    .executeTakeFirst();
  if (!row) throw notFound('intake_response');
  return toIntakeResponse(row);
}

type Answer = IntakeResponseInput['answers'][string];

/** The answers, checked against the items: known keys, right types, every required field answered. */
function checkAnswers(
  items: QuestionnaireItemRow[],
  answers: Record<string, Answer>,
  required: readonly IntakeField[],
): Record<string, Answer> {
  const byKey = new Map(items.map((i) => [i.key, i]));
  for (const [key, value] of Object.entries(answers)) {
    const item = byKey.get(key);
    if (!item) throw badRequest('intake_unknown_field', `The questionnaire has no item "${key}"`, { field: key });
    if (value !== null && !fits(item, value))
      throw badRequest('intake_answer_invalid', `The answer to "${key}" is not a valid ${item.type.replace('_', ' ')}`, { field: key });
  }
  const must = [...items.filter((i) => i.required).map((i) => i.key), ...required.filter((f) => !byKey.get(f)?.required)];
  const missing = must.filter((key) => !answered(answers[key]));
  if (missing.length)
    throw badRequest(
      'intake_required_field_missing',
      `Required intake field${missing.length > 1 ? 's' : ''} not answered: ${missing.join(', ')}`,
      {
        field: missing[0],
        fields: missing,
      },
    );
  return answers;
}

function fits(item: QuestionnaireItemRow, v: Exclude<Answer, null>): boolean {
  switch (item.type) {
    case 'text':
      return typeof v === 'string' && v.length <= 1000;
    case 'long_text':
      return typeof v === 'string';
    case 'boolean':
      return typeof v === 'boolean';
    case 'number':
      return typeof v === 'number' && Number.isFinite(v);
    case 'date':
      return typeof v === 'string' && isCalendarDate(v);
    case 'single_choice':
      return typeof v === 'string' && (item.options ?? []).includes(v);
    case 'multiple_choice':
      return Array.isArray(v) && new Set(v).size === v.length && v.every((x) => (item.options ?? []).includes(x));
  }
}

function answered(v: Answer | undefined): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v === 'string') return v.trim().length > 0;
  if (Array.isArray(v)) return v.length > 0;
  return true;
}

function toQuestionnaire(r: Selectable<QuestionnairesTable>): Questionnaire {
  return {
    id: r.id,
    clinicId: r.clinic_id,
    title: r.title,
    description: r.description,
    items: r.items,
    active: r.active,
    version: r.version,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  };
}

function toIntakeResponse(r: Selectable<IntakeResponsesTable>): IntakeResponse {
  return {
    id: r.id,
    clinicId: r.clinic_id,
    appointmentId: r.appointment_id,
    patientId: r.patient_id,
    questionnaireId: r.questionnaire_id,
    questionnaireVersion: r.questionnaire_version,
    answers: r.answers as IntakeResponse['answers'],
    submittedBy: r.submitted_by,
    submittedAt: r.submitted_at.toISOString(),
  };
}
