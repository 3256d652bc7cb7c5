import { Alert, Badge, Button, Group, Input, Modal, Rating, SegmentedControl, Stack, Text } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { call } from '../api/client';
import { useI18n } from '../i18n/i18n';
import { usePortal } from '../portal/context';
import { portalApi } from '../portal/session';
import { problemText } from '../ui/states';

/**
 * The post-visit survey in the patient portal, on a completed visit: three answers on fixed scales (overall,
 * likelihood to recommend, ease of joining), sent once. No free text, so nothing a patient writes reaches a
 * dashboard.
 */
export function VisitSurveyButton({ appointmentId }: { appointmentId: string }) {
  const { t } = useI18n();
  const { clinicId } = usePortal();
  const client = useQueryClient();
  const [opened, { open, close }] = useDisclosure();
  const [overall, setOverall] = useState(0);
  const [recommend, setRecommend] = useState<string | null>(null);
  const [ease, setEase] = useState(0);
  const key = ['portal', clinicId, 'survey', appointmentId];
  const survey = useQuery({
    queryKey: key,
    queryFn: () =>
      call(
        portalApi.GET('/api/v1/clinics/{clinicId}/portal/visits/{appointmentId}/survey', { params: { path: { clinicId, appointmentId } } }),
      ),
  });
  const send = useMutation({
    mutationFn: () =>
      call(
        portalApi.POST('/api/v1/clinics/{clinicId}/portal/visits/{appointmentId}/survey', {
          params: { path: { clinicId, appointmentId } },
          body: { overall, recommend: Number(recommend), ...(ease ? { ease } : {}) },
        }),
      ),
    onSuccess: async () => {
      await client.invalidateQueries({ queryKey: key });
      close();
    },
  });
  if (!survey.data) return null;
  if (survey.data.survey)
    return (
      <Badge color="teal" variant="light">
        {t('survey.thanks')}
      </Badge>
    );
  return (
    <>
      <Button variant="light" size="sm" onClick={open}>
        {t('survey.rate')}
      </Button>
      <Modal opened={opened} onClose={close} title={t('survey.title')} centered>
        <Stack gap="md">
          <Text size="sm" c="dimmed">
            {t('survey.lead')}
          </Text>
          <Input.Wrapper label={t('survey.overall')} required>
            <Rating value={overall} onChange={setOverall} size="lg" name="overall" getSymbolLabel={(n) => t('survey.stars', { n })} />
          </Input.Wrapper>
          <Input.Wrapper label={t('survey.recommend')} description={t('survey.recommendScale')} required>
            <SegmentedControl
              fullWidth
              size="xs"
              value={recommend ?? ''}
              onChange={setRecommend}
              aria-label={t('survey.recommend')}
              data={Array.from({ length: 11 }, (_, i) => ({ value: String(i), label: String(i) }))}
            />
          </Input.Wrapper>
          <Input.Wrapper label={t('survey.ease')} description={t('survey.optional')}>
            <Rating value={ease} onChange={setEase} size="lg" name="ease" getSymbolLabel={(n) => t('survey.stars', { n })} />
          </Input.Wrapper>
          {send.isError && (
            <Alert color="red" variant="light" role="alert">
              {problemText(send.error, t)}
            </Alert>
          )}
          <Group justify="flex-end">
            <Button variant="default" onClick={close}>
              {t('survey.later')}
            </Button>
            <Button onClick={() => send.mutate()} disabled={!overall || recommend === null} loading={send.isPending}>
              {t('survey.send')}
            </Button>
          </Group>
        </Stack>
      </Modal>
    </>
  );
}
