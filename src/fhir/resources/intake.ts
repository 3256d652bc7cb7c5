import type { Selectable } from 'kysely';
import type { Questionnaire, QuestionnaireItem, QuestionnaireResponse, QuestionnaireResponseItemAnswer } from '@medplum/fhirtypes';
import type { IntakeResponsesTable, QuestionnaireItemRow, QuestionnairesTable } from '../../scheduling/migration.js';
import { conditionsOf, fhirId, instant, ourId, type ResourceDef } from '../resource-def.js';
import { referenceConditions, stringConditions } from '../search.js';
import { dateParam, idParam, lastUpdatedParam, patientParam } from './common.js';

/** The clinic's intake questionnaires and the answers patients gave before their visits. */
const ITEM_TYPE: Record<QuestionnaireItemRow['type'], QuestionnaireItem['type']> = {
  text: 'string',
  long_text: 'text',
  boolean: 'boolean',
  number: 'decimal',
  date: 'date',
  single_choice: 'choice',
  multiple_choice: 'choice',
};

function toQuestionnaire(r: Selectable<QuestionnairesTable>): Questionnaire {
  return {
    resourceType: 'Questionnaire',
    id: fhirId(r.id),
    meta: { versionId: String(r.version), lastUpdated: instant(r.updated_at) },
    version: String(r.version),
    status: r.active ? 'active' : 'retired',
    title: r.title,
    ...(r.description ? { description: r.description } : {}),
    item: r.items.map((i) => ({
      linkId: i.key,
      text: i.label,
      type: ITEM_TYPE[i.type],
      required: i.required,
      ...(i.type === 'multiple_choice' ? { repeats: true } : {}),
      ...(i.options?.length ? { answerOption: i.options.map((o) => ({ valueString: o })) } : {}),
    })),
  };
}

const questionnaireParams = {
  _id: idParam('id', 'questionnaire'),
  _lastUpdated: lastUpdatedParam('updated_at'),
  title: {
    type: 'string' as const,
    documentation: 'Starts the title',
    where: (v: string[], n: string) => stringConditions(['title'], v, n),
  },
};

export const questionnaireDef: ResourceDef = {
  type: 'Questionnaire',
  permission: 'intake.read',
  phi: false,
  params: questionnaireParams,
  async search(scope, q) {
    let query = scope.db.selectFrom('questionnaires').selectAll();
    for (const c of conditionsOf(questionnaireParams, q)) query = query.where(c);
    const rows = await query
      .orderBy('id')
      .limit(q.count + 1)
      .offset(q.offset)
      .execute();
    return rows.map(toQuestionnaire);
  },
  patientOf: () => null,
};

function answersOf(value: unknown): QuestionnaireResponseItemAnswer[] {
  if (Array.isArray(value)) return value.flatMap(answersOf);
  if (typeof value === 'boolean') return [{ valueBoolean: value }];
  if (typeof value === 'number') return [{ valueDecimal: value }];
  if (typeof value === 'string') return /^\d{4}-\d{2}-\d{2}$/.test(value) ? [{ valueDate: value }] : value ? [{ valueString: value }] : [];
  return value === null || value === undefined ? [] : [{ valueString: JSON.stringify(value) }];
}

function toQuestionnaireResponse(r: Selectable<IntakeResponsesTable>): QuestionnaireResponse {
  return {
    resourceType: 'QuestionnaireResponse',
    id: fhirId(r.id),
    meta: { lastUpdated: instant(r.submitted_at) },
    questionnaire: `Questionnaire/${fhirId(r.questionnaire_id)}|${r.questionnaire_version}`,
    status: 'completed',
    subject: { reference: `Patient/${fhirId(r.patient_id)}` },
    authored: instant(r.submitted_at),
    item: Object.entries(r.answers).flatMap(([linkId, value]) => {
      const answer = answersOf(value);
      return answer.length ? [{ linkId, answer }] : [];
    }),
  };
}

const responseParams = {
  _id: idParam('id', 'intakeResponse'),
  _lastUpdated: lastUpdatedParam('submitted_at'),
  patient: patientParam('patient_id'),
  subject: patientParam('patient_id'),
  authored: dateParam('submitted_at', 'When the answers were submitted'),
  questionnaire: {
    type: 'reference' as const,
    documentation: 'The questionnaire answered (Questionnaire/{id})',
    where: (values: string[], name: string) =>
      referenceConditions(
        'questionnaire_id',
        values.map((v) => v.replace(/\|.*$/, '')),
        name,
        'Questionnaire',
        (id) => ourId(id, 'questionnaire'),
      ),
  },
};

export const questionnaireResponseDef: ResourceDef = {
  type: 'QuestionnaireResponse',
  permission: 'intake.read',
  phi: true,
  params: responseParams,
  includes: {
    'QuestionnaireResponse:patient': {
      target: 'Patient',
      refs: (r) => [(r as QuestionnaireResponse).subject?.reference?.replace(/^Patient\//, '')].filter((x): x is string => !!x),
    },
  },
  async search(scope, q) {
    let query = scope.db.selectFrom('intake_responses').selectAll();
    for (const c of conditionsOf(responseParams, q)) query = query.where(c);
    const rows = await query
      .orderBy('submitted_at', 'desc')
      .orderBy('id')
      .limit(q.count + 1)
      .offset(q.offset)
      .execute();
    return rows.map(toQuestionnaireResponse);
  },
  patientOf: (r) => ourId((r as QuestionnaireResponse).subject?.reference?.replace(/^Patient\//, '') ?? '', 'patient'),
};
