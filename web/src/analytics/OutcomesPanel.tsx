import { Alert, Badge, Button, Group, Input, Paper, SegmentedControl, SimpleGrid, Stack, Text } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { CartesianGrid, Legend, Line, LineChart, ReferenceLine, Tooltip, XAxis, YAxis } from 'recharts';
import { api, call } from '../api/client';
import { useClinic } from '../clinic/context';
import { useI18n, type MessageKey } from '../i18n/i18n';
import { problemText, QueryState } from '../ui/states';
import { DataTable } from '../ui/Table';
import { ChartCard } from './DashboardPage';

type Instrument = 'phq9' | 'gad7';
const ITEMS: Record<Instrument, number> = { phq9: 9, gad7: 7 };
const COLOURS: Record<Instrument, string> = { phq9: '#5f3dc4', gad7: '#0b7285' };
export const SEVERITY_COLOURS: Record<string, string> = {
  minimal: 'teal',
  mild: 'lime',
  moderate: 'yellow',
  moderately_severe: 'orange',
  severe: 'red',
};

/**
 * A patient's PHQ-9 and GAD-7 scores over time (the chart's Outcomes tab), and, for clinicians, a form to
 * record a new set of answers: the server scores it and bands it by the instruments' own cut-offs.
 */
export default function OutcomesPanel({ patientId }: { patientId: string }) {
  const { t, date, dateTime } = useI18n();
  const { clinicId, can } = useClinic();
  const scores = useQuery({
    queryKey: [clinicId, 'outcomes', patientId],
    queryFn: () => call(api.GET('/api/v1/clinics/{clinicId}/patients/{patientId}/outcomes', { params: { path: { clinicId, patientId } } })),
  });
  return (
    <QueryState query={scores}>
      {(s) => {
        const points = s.items.map((x) => ({ at: x.recordedAt, [x.instrument]: x.score }));
        return (
          <Stack gap="md">
            <ChartCard title={t('outcomes.trend')} id="outcomes-trend">
              <LineChart data={points} margin={{ top: 8, right: 16, bottom: 8, left: 0 }}>
                <CartesianGrid strokeDasharray="3 3" stroke="#e9ecef" />
                <XAxis dataKey="at" tickFormatter={(v: string) => date(v, 'short')} fontSize={12} />
                <YAxis domain={[0, 27]} fontSize={12} allowDecimals={false} />
                <ReferenceLine y={10} stroke="#adb5bd" strokeDasharray="4 4" />
                <Tooltip labelFormatter={(v) => dateTime(String(v))} />
                <Legend />
                {(['phq9', 'gad7'] as const).map((i) => (
                  <Line
                    key={i}
                    type="monotone"
                    dataKey={i}
                    name={t(`outcomes.${i}` as MessageKey)}
                    stroke={COLOURS[i]}
                    strokeWidth={2}
                    connectNulls
                    isAnimationActive={false}
                  />
                ))}
              </LineChart>
            </ChartCard>
            <DataTable
              records={[...s.items].reverse()}
              columns={[
                { accessor: 'recordedAt', title: t('outcomes.when'), render: (x) => dateTime(x.recordedAt) },
                { accessor: 'instrument', title: t('outcomes.instrument'), render: (x) => t(`outcomes.${x.instrument}` as MessageKey) },
                { accessor: 'score', title: t('outcomes.score'), textAlign: 'right' },
                {
                  accessor: 'severity',
                  title: t('outcomes.severity'),
                  render: (x) => (
                    <Group gap={6}>
                      <Badge variant="light" color={SEVERITY_COLOURS[x.severity] ?? 'gray'}>
                        {t(`outcomes.band.${x.severity}` as MessageKey)}
                      </Badge>
                      {x.selfHarm && (
                        <Badge color="red" variant="filled">
                          {t('outcomes.selfHarm')}
                        </Badge>
                      )}
                    </Group>
                  ),
                },
              ]}
            />
            {can('encounter.write') && <RecordOutcome patientId={patientId} />}
          </Stack>
        );
      }}
    </QueryState>
  );
}

function RecordOutcome({ patientId }: { patientId: string }) {
  const { t } = useI18n();
  const { clinicId } = useClinic();
  const client = useQueryClient();
  const [instrument, setInstrument] = useState<Instrument>('phq9');
  const [answers, setAnswers] = useState<(string | null)[]>(Array(9).fill(null));
  const items = answers.slice(0, ITEMS[instrument]);
  const save = useMutation({
    mutationFn: () =>
      call(
        api.POST('/api/v1/clinics/{clinicId}/patients/{patientId}/outcomes', {
          params: { path: { clinicId, patientId } },
          body: { instrument, answers: items.map(Number) },
        }),
      ),
    onSuccess: async () => {
      setAnswers(Array(9).fill(null));
      await client.invalidateQueries({ queryKey: [clinicId, 'outcomes', patientId] });
    },
  });
  const scale = [0, 1, 2, 3].map((v) => ({ value: String(v), label: `${v} · ${t(`outcomes.answer.${v}` as MessageKey)}` }));
  return (
    <Paper withBorder p="md" radius="md">
      <Stack gap="sm">
        <Group justify="space-between">
          <Text fw={600}>{t('outcomes.record')}</Text>
          <SegmentedControl
            value={instrument}
            onChange={(v) => setInstrument(v as Instrument)}
            aria-label={t('outcomes.instrument')}
            data={[
              { value: 'phq9', label: t('outcomes.phq9') },
              { value: 'gad7', label: t('outcomes.gad7') },
            ]}
          />
        </Group>
        <Text size="sm" c="dimmed">
          {t('outcomes.lead')}
        </Text>
        <SimpleGrid cols={{ base: 1, xl: 2 }}>
          {items.map((a, i) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: the items of an instrument are fixed and numbered
            <Input.Wrapper key={i} label={t('outcomes.item', { n: i + 1 })}>
              <SegmentedControl
                fullWidth
                size="xs"
                value={a ?? ''}
                onChange={(v) => setAnswers((all) => all.map((x, j) => (j === i ? v : x)))}
                aria-label={t('outcomes.item', { n: i + 1 })}
                data={scale}
              />
            </Input.Wrapper>
          ))}
        </SimpleGrid>
        {save.isError && (
          <Alert color="red" variant="light" role="alert">
            {problemText(save.error, t)}
          </Alert>
        )}
        <Group justify="flex-end">
          <Button onClick={() => save.mutate()} disabled={items.some((a) => a === null)} loading={save.isPending}>
            {t('outcomes.save')}
          </Button>
        </Group>
      </Stack>
    </Paper>
  );
}
