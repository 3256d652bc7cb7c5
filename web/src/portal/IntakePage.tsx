import { Alert, Button, Checkbox, Group, NumberInput, Paper, Radio, Stack, Text, Textarea, TextInput } from '@mantine/core';
import { DateInput } from '@mantine/dates';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { call } from '../api/client';
import type { paths } from '../api/schema';
import { useI18n } from '../i18n/i18n';
import { notifySaved } from '../ui/forms';
import { PageHeader } from '../ui/page';
import { EmptyState, QueryState, problemText } from '../ui/states';
import { usePortal } from './context';
import { portalApi } from './session';

type Answer = string | number | boolean | string[] | null;

/** The clinic's intake questionnaire for one visit, filled in by the patient before it. */
export default function IntakePage() {
  const { t } = useI18n();
  const { clinicId, path } = usePortal();
  const { appointmentId = '' } = useParams();
  const intake = useQuery({
    queryKey: ['portal', clinicId, 'intake', appointmentId],
    queryFn: () =>
      call(
        portalApi.GET('/api/v1/clinics/{clinicId}/portal/visits/{appointmentId}/intake', { params: { path: { clinicId, appointmentId } } }),
      ),
  });
  return (
    <>
      <PageHeader title={t('portal.intake.title')} description={t('portal.intake.lead')} />
      <QueryState query={intake}>
        {(d) =>
          !d.questionnaire ? (
            <EmptyState title={t('portal.intake.none')}>
              <Button component={Link} to={path()} variant="light" mt="sm">
                {t('portal.back')}
              </Button>
            </EmptyState>
          ) : d.responses.length > 0 ? (
            <Alert color="teal" variant="light" role="status" title={t('portal.intake.sentTitle')}>
              <Stack gap="xs">
                <Text size="sm">{t('portal.intake.sent')}</Text>
                <Button component={Link} to={path()} variant="light" w="fit-content">
                  {t('portal.back')}
                </Button>
              </Stack>
            </Alert>
          ) : (
            <IntakeForm questionnaire={d.questionnaire} appointmentId={appointmentId} />
          )
        }
      </QueryState>
    </>
  );
}

type Questionnaire =
  paths['/api/v1/clinics/{clinicId}/portal/visits/{appointmentId}/intake']['get']['responses'][200]['content']['application/json']['questionnaire'];

function IntakeForm({ questionnaire, appointmentId }: { questionnaire: NonNullable<Questionnaire>; appointmentId: string }) {
  const { t } = useI18n();
  const { clinicId, path } = usePortal();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [answers, setAnswers] = useState<Record<string, Answer>>({});
  const set = (key: string, value: Answer) => setAnswers((a) => ({ ...a, [key]: value }));
  const send = useMutation({
    mutationFn: () =>
      call(
        portalApi.POST('/api/v1/clinics/{clinicId}/portal/visits/{appointmentId}/intake', {
          params: { path: { clinicId, appointmentId } },
          body: { questionnaireId: questionnaire.id, answers },
        }),
      ),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: ['portal', clinicId] });
      notifySaved(t('portal.intake.thanks'));
      navigate(path());
    },
  });
  return (
    <Paper withBorder p="lg" radius="md">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          send.mutate();
        }}
        noValidate
      >
        <Stack gap="md">
          <Text fw={600} size="lg">
            {questionnaire.title}
          </Text>
          {questionnaire.description && (
            <Text size="sm" c="dimmed">
              {questionnaire.description}
            </Text>
          )}
          {questionnaire.items.map((item) => {
            const v = answers[item.key];
            switch (item.type) {
              case 'long_text':
                return (
                  <Textarea
                    key={item.key}
                    label={item.label}
                    required={item.required}
                    autosize
                    minRows={3}
                    value={(v as string) ?? ''}
                    onChange={(e) => set(item.key, e.currentTarget.value)}
                  />
                );
              case 'boolean':
                return (
                  <Checkbox
                    key={item.key}
                    label={item.label}
                    checked={v === true}
                    onChange={(e) => set(item.key, e.currentTarget.checked)}
                  />
                );
              case 'number':
                return (
                  <NumberInput
                    key={item.key}
                    label={item.label}
                    required={item.required}
                    value={(v as number) ?? ''}
                    onChange={(n) => set(item.key, typeof n === 'number' ? n : null)}
                  />
                );
              case 'date':
                return (
                  <DateInput
                    key={item.key}
                    label={item.label}
                    required={item.required}
                    value={(v as string) ?? null}
                    onChange={(d) => set(item.key, d)}
                  />
                );
              case 'single_choice':
                return (
                  <Radio.Group
                    key={item.key}
                    label={item.label}
                    required={item.required}
                    value={(v as string) ?? null}
                    onChange={(x) => set(item.key, x)}
                  >
                    <Group mt="xs">
                      {item.options?.map((o) => (
                        <Radio key={o} value={o} label={o} />
                      ))}
                    </Group>
                  </Radio.Group>
                );
              case 'multiple_choice':
                return (
                  <Checkbox.Group
                    key={item.key}
                    label={item.label}
                    required={item.required}
                    value={(v as string[]) ?? []}
                    onChange={(x) => set(item.key, x)}
                  >
                    <Group mt="xs">
                      {item.options?.map((o) => (
                        <Checkbox key={o} value={o} label={o} />
                      ))}
                    </Group>
                  </Checkbox.Group>
                );
              default:
                return (
                  <TextInput
                    key={item.key}
                    label={item.label}
                    required={item.required}
                    value={(v as string) ?? ''}
                    onChange={(e) => set(item.key, e.currentTarget.value)}
                  />
                );
            }
          })}
          {send.isError && (
            <Alert color="red" variant="light" role="alert">
              {problemText(send.error, t)}
            </Alert>
          )}
          <Group justify="flex-end">
            <Button component={Link} to={path()} variant="default">
              {t('portal.intake.later')}
            </Button>
            <Button type="submit" loading={send.isPending}>
              {t('portal.intake.send')}
            </Button>
          </Group>
        </Stack>
      </form>
    </Paper>
  );
}
