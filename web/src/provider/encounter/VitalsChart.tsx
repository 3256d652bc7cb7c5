import { Group, SegmentedControl, Stack, Text } from '@mantine/core';
import { useState } from 'react';
import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import type { EncounterRecord } from '../../clinic/data';
import { useI18n, type MessageKey } from '../../i18n/i18n';

type Vitals = NonNullable<EncounterRecord['vitals']>[number];
type Series = 'bp' | 'hr' | 'temp' | 'spo2' | 'weight';

const SERIES: Record<
  Series,
  { label: MessageKey; unit: string; lines: { key: string; name: MessageKey; color: string; pick: (v: Vitals) => number | undefined }[] }
> = {
  bp: {
    label: 'vitals.bp',
    unit: 'mmHg',
    lines: [
      { key: 'systolic', name: 'vitals.systolic', color: '#c92a2a', pick: (v) => v.bloodPressure?.systolic },
      { key: 'diastolic', name: 'vitals.diastolic', color: '#1971c2', pick: (v) => v.bloodPressure?.diastolic },
    ],
  },
  hr: { label: 'vitals.hr', unit: '/min', lines: [{ key: 'hr', name: 'vitals.hr', color: '#c2255c', pick: (v) => v.heartRate?.value }] },
  temp: {
    label: 'vitals.temp',
    unit: '°C',
    lines: [{ key: 'temp', name: 'vitals.temp', color: '#e8590c', pick: (v) => v.temperature?.value }],
  },
  spo2: {
    label: 'vitals.spo2',
    unit: '%',
    lines: [{ key: 'spo2', name: 'vitals.spo2', color: '#0b7285', pick: (v) => v.oxygenSaturation?.value }],
  },
  weight: {
    label: 'vitals.weight',
    unit: 'kg',
    lines: [{ key: 'weight', name: 'vitals.weight', color: '#5f3dc4', pick: (v) => v.weight?.value }],
  },
};

/** Vitals over time, one measurement at a time, on the dates they were taken (the table below lists every value). */
export default function VitalsChart({ vitals }: { vitals: Vitals[] }) {
  const { t, date, number } = useI18n();
  const available = (Object.keys(SERIES) as Series[]).filter((s) =>
    vitals.some((v) => SERIES[s].lines.some((l) => l.pick(v) !== undefined)),
  );
  const [series, setSeries] = useState<Series>(available[0] ?? 'bp');
  const def = SERIES[series];
  const data = vitals
    .map((v) => ({ at: v.measuredAt, ...Object.fromEntries(def.lines.map((l) => [l.key, l.pick(v)])) }))
    .filter((row) => def.lines.some((l) => (row as Record<string, unknown>)[l.key] !== undefined));
  return (
    <Stack gap="sm">
      <Group justify="space-between">
        <Text fw={600} id="vitals-trend">
          {t('vitals.trend')}
        </Text>
        <SegmentedControl
          size="xs"
          value={series}
          onChange={(v) => setSeries(v as Series)}
          data={available.map((s) => ({ value: s, label: t(SERIES[s].label) }))}
          aria-label={t('vitals.measurement')}
        />
      </Group>
      <div role="img" aria-labelledby="vitals-trend" style={{ width: '100%', height: 260 }}>
        <ResponsiveContainer>
          <LineChart data={data} margin={{ top: 8, right: 16, bottom: 8, left: 0 }}>
            <CartesianGrid strokeDasharray="3 3" stroke="#e9ecef" />
            <XAxis dataKey="at" tickFormatter={(v: string) => date(v, 'short')} fontSize={12} />
            <YAxis fontSize={12} domain={['auto', 'auto']} unit={` ${def.unit}`} width={80} tickFormatter={(n: number) => number(n)} />
            <Tooltip labelFormatter={(v) => date(String(v), 'medium')} formatter={(value) => `${number(Number(value))} ${def.unit}`} />
            <Legend />
            {def.lines.map((l) => (
              <Line
                key={l.key}
                type="monotone"
                dataKey={l.key}
                name={t(l.name)}
                stroke={l.color}
                strokeWidth={2}
                dot={{ r: 4 }}
                isAnimationActive={false}
                connectNulls
              />
            ))}
          </LineChart>
        </ResponsiveContainer>
      </div>
    </Stack>
  );
}
