import { Alert, Button, Group, Modal, Select, Stack, TextInput } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type ReactNode } from 'react';
import { Bar, BarChart, CartesianGrid, Tooltip, XAxis, YAxis } from 'recharts';
import { api, call } from '../api/client';
import type { paths } from '../api/schema';
import { useClinic } from '../clinic/context';
import { type I18n, useI18n, type MessageKey } from '../i18n/i18n';
import { problemText, QueryState } from '../ui/states';
import { ConfirmButton } from '../ui/confirm';
import { notifySaved } from '../ui/forms';
import { DataTable } from '../ui/Table';
import { ChartCard } from './DashboardPage';
import { FormActions } from '../ui/form-actions';

type Rendered =
  paths['/api/v1/clinics/{clinicId}/analytics/dashboards/{dashboardId}/render']['get']['responses'][200]['content']['application/json'];
type MetricInput = NonNullable<paths['/api/v1/clinics/{clinicId}/analytics/metrics']['post']['requestBody']>['content']['application/json'];

/**
 * The clinic's saved dashboards above the built-in one: pick one to see its figures for the period (its
 * built-in widgets and custom metrics, as its scheduled reports mail them), or add a chart of a custom metric
 * (an allow-listed measure by an allow-listed dimension) to it. The built-in dashboard shows when none is picked.
 */
export function SavedDashboards({ range, children }: { range: { from: string; to: string }; children: ReactNode }) {
  const { t } = useI18n();
  const { clinicId, can } = useClinic();
  const [selected, setSelected] = useState<string | null>(null);
  const dashboards = useQuery({
    queryKey: [clinicId, 'analytics', 'dashboards'],
    queryFn: () => call(api.GET('/api/v1/clinics/{clinicId}/analytics/dashboards', { params: { path: { clinicId } } })),
  });
  return (
    <Stack gap="lg">
      <Group align="end">
        <Select
          label={t('analytics.saved.label')}
          data={[
            { value: '', label: t('analytics.saved.builtIn') },
            ...(dashboards.data?.items ?? []).map((d) => ({ value: d.id, label: d.name })),
          ]}
          value={selected ?? ''}
          onChange={(v) => setSelected(v || null)}
          allowDeselect={false}
          w={280}
        />
        {can('analytics.clinic.manage') && <AddMetric dashboardId={selected} onSaved={setSelected} />}
        {can('analytics.clinic.manage') && selected && (
          <DashboardActions
            dashboardId={selected}
            name={dashboards.data?.items.find((d) => d.id === selected)?.name ?? ''}
            onDeleted={() => setSelected(null)}
          />
        )}
      </Group>
      {selected ? <SavedDashboardView dashboardId={selected} range={range} /> : children}
    </Stack>
  );
}

function SavedDashboardView({ dashboardId, range }: { dashboardId: string; range: { from: string; to: string } }) {
  const { clinicId } = useClinic();
  const rendered = useQuery({
    queryKey: [clinicId, 'analytics', 'dashboards', dashboardId, range],
    queryFn: () =>
      call(
        api.GET('/api/v1/clinics/{clinicId}/analytics/dashboards/{dashboardId}/render', {
          params: { path: { clinicId, dashboardId }, query: range },
        }),
      ),
  });
  return <QueryState query={rendered}>{(r) => <Tables r={r} />}</QueryState>;
}

type Table = Rendered['tables'][number];

/**
 * A week's group (the API's key is its Monday, 'YYYY-MM-DD') or a month's ('YYYY-MM') as the reader writes dates:
 * "Week of 23 Nov", "November 2026" ("Woche vom 23. Nov.", "November 2026"). A week's year is written only when
 * the table's weeks are not all of the current year, so that two weeks of the same date never read alike.
 */
function calendarGroup(
  table: Table,
  key: string,
  { t, calendarDate, calendarMonth }: Pick<I18n, 't' | 'calendarDate' | 'calendarMonth'>,
): string | undefined {
  const dimension = table.builtin ? undefined : table.columns[0];
  if (dimension === 'month' && /^\d{4}-\d{2}$/.test(key)) return calendarMonth(key);
  if (dimension !== 'week' || !/^\d{4}-\d{2}-\d{2}$/.test(key)) return undefined;
  const thisYear = String(new Date().getFullYear());
  const years = new Set(table.rows.map((row) => String(row[0]).slice(0, 4)));
  const withYear = years.size > 1 || !years.has(thisYear);
  return t('analytics.saved.weekOf', {
    date: calendarDate(key, { day: 'numeric', month: 'short', ...(withYear ? { year: 'numeric' } : {}) }),
  });
}

function Tables({ r }: { r: Rendered }) {
  const i18n = useI18n();
  const { t, number, maybe } = i18n;
  /** A figure's, measure's or dimension's name in the reader's language; a group's own name (a provider) as it is. */
  const heading = (key: string) =>
    maybe(`analytics.figure.${key}`) ?? maybe(`analytics.measure.${key}`) ?? maybe(`analytics.dimension.${key}`) ?? key;
  /**
   * A group that is a word (the one total, a modality), translated; a week or a month as a date of the reader's
   * language; a provider's or type's name as the clinic wrote it.
   */
  const group = (table: Table, key: string) => calendarGroup(table, key, i18n) ?? maybe(`analytics.group.${key}`) ?? heading(key);
  /** A built-in widget's title in the reader's language; a custom metric's as the clinic named it. */
  const title = (table: Table) => (table.builtin ? t(`analytics.builtin.${table.builtin}`) : table.title);
  const cell = (v: string | number | null) => (v === null ? '—' : typeof v === 'number' ? number(v, { maximumFractionDigits: 2 }) : v);
  return (
    <Stack gap="lg">
      {r.tables.map((table, i) => {
        const records = table.rows.map((row, j) => ({ id: String(j), row }));
        const chartable = table.columns.length === 2 && table.columns[0] !== 'figure';
        return (
          <Stack gap="xs" key={`${table.title}-${i}`}>
            {chartable && (
              <ChartCard title={title(table)} id={`saved-chart-${i}`}>
                <BarChart
                  data={table.rows.map((row) => ({ label: group(table, String(row[0])), value: row[1] }))}
                  margin={{ top: 8, right: 16, bottom: 8, left: 0 }}
                >
                  <CartesianGrid strokeDasharray="3 3" stroke="#e9ecef" />
                  <XAxis dataKey="label" fontSize={12} />
                  <YAxis fontSize={12} tickFormatter={(n: number) => number(n)} />
                  <Tooltip formatter={(v) => number(Number(v))} />
                  <Bar dataKey="value" name={heading(table.columns[1]!)} fill="#1971c2" isAnimationActive={false} />
                </BarChart>
              </ChartCard>
            )}
            <DataTable
              idAccessor="id"
              records={records}
              noRecordsText={t('analytics.saved.empty')}
              columns={table.columns.map((c, k) => ({
                accessor: `c${k}`,
                title: k === 0 && !chartable ? title(table) : heading(c),
                textAlign: k === 0 ? 'left' : 'right',
                render: (x: { row: (string | number | null)[] }) =>
                  k === 0 && typeof x.row[0] === 'string' ? group(table, x.row[0]) : cell(x.row[k] ?? null),
              }))}
            />
          </Stack>
        );
      })}
    </Stack>
  );
}

/** A custom metric made and put on the selected dashboard (or on a new one, when the built-in one is showing). */
function AddMetric({ dashboardId, onSaved }: { dashboardId: string | null; onSaved: (id: string) => void }) {
  const { t } = useI18n();
  const { clinicId } = useClinic();
  const queryClient = useQueryClient();
  const [open, setOpen] = useState(false);
  const [name, setName] = useState('');
  const [measure, setMeasure] = useState<MetricInput['measure']>('completed_visits');
  const [dimension, setDimension] = useState<NonNullable<MetricInput['dimension']>>('month');
  const catalogue = useQuery({
    queryKey: [clinicId, 'analytics', 'measures'],
    queryFn: () => call(api.GET('/api/v1/clinics/{clinicId}/analytics/measures', { params: { path: { clinicId } } })),
    enabled: open,
  });
  const dimensions = catalogue.data?.measures.find((m) => m.key === measure)?.dimensions ?? [];
  const save = useMutation({
    mutationFn: async () => {
      const metric = await call(
        api.POST('/api/v1/clinics/{clinicId}/analytics/metrics', { params: { path: { clinicId } }, body: { name, measure, dimension } }),
      );
      if (!dashboardId)
        return call(
          api.POST('/api/v1/clinics/{clinicId}/analytics/dashboards', {
            params: { path: { clinicId } },
            body: { name: t('analytics.saved.newName'), widgets: [{ builtin: 'appointments' }, { metricId: metric.id }] },
          }),
        );
      const current = await call(
        api.GET('/api/v1/clinics/{clinicId}/analytics/dashboards/{dashboardId}', { params: { path: { clinicId, dashboardId } } }),
      );
      return call(
        api.PUT('/api/v1/clinics/{clinicId}/analytics/dashboards/{dashboardId}', {
          params: { path: { clinicId, dashboardId } },
          body: { name: current.name, widgets: [...(current.widgets as never[]), { metricId: metric.id }] },
        }),
      );
    },
    onSuccess: (d) => {
      void queryClient.invalidateQueries({ queryKey: [clinicId, 'analytics', 'dashboards'] });
      setOpen(false);
      setName('');
      onSaved(d.id);
    },
  });
  if (!open)
    return (
      <Button variant="default" onClick={() => setOpen(true)}>
        {t('analytics.saved.addMetric')}
      </Button>
    );
  return (
    <Group align="end">
      <TextInput label={t('analytics.saved.metricName')} value={name} onChange={(e) => setName(e.currentTarget.value)} required />
      <Select
        label={t('analytics.saved.measure')}
        data={(catalogue.data?.measures ?? []).map((m) => ({ value: m.key, label: t(`analytics.measure.${m.key}` as MessageKey) }))}
        value={measure}
        onChange={(v) => v && setMeasure(v as MetricInput['measure'])}
        allowDeselect={false}
      />
      <Select
        label={t('analytics.saved.dimension')}
        data={dimensions.map((d) => ({ value: d, label: t(`analytics.dimension.${d}` as MessageKey) }))}
        value={dimensions.includes(dimension) ? dimension : null}
        onChange={(v) => v && setDimension(v as typeof dimension)}
        allowDeselect={false}
      />
      <Button onClick={() => save.mutate()} loading={save.isPending} disabled={!name.trim() || !dimensions.includes(dimension)}>
        {t('action.save')}
      </Button>
      <Button variant="default" onClick={() => setOpen(false)}>
        {t('action.cancel')}
      </Button>
      {save.isError && (
        <Alert color="red" variant="light" role="alert">
          {problemText(save.error, t)}
        </Alert>
      )}
    </Group>
  );
}

/** Rename or delete the selected saved dashboard (deleting it stops its scheduled reports; its metrics stay). */
function DashboardActions({ dashboardId, name, onDeleted }: { dashboardId: string; name: string; onDeleted: () => void }) {
  const { t } = useI18n();
  const { clinicId } = useClinic();
  const queryClient = useQueryClient();
  const [renaming, setRenaming] = useState(false);
  const [newName, setNewName] = useState(name);
  const refresh = () => queryClient.invalidateQueries({ queryKey: [clinicId, 'analytics'] });
  const rename = useMutation({
    mutationFn: async () => {
      const path = { clinicId, dashboardId };
      const current = await call(api.GET('/api/v1/clinics/{clinicId}/analytics/dashboards/{dashboardId}', { params: { path } }));
      return call(
        api.PUT('/api/v1/clinics/{clinicId}/analytics/dashboards/{dashboardId}', {
          params: { path },
          body: { name: newName, widgets: current.widgets as never[] },
        }),
      );
    },
    onSuccess: async () => {
      notifySaved(t('analytics.saved.renamed'));
      setRenaming(false);
      await refresh();
    },
  });
  return (
    <>
      <Button
        variant="default"
        onClick={() => {
          rename.reset();
          setNewName(name);
          setRenaming(true);
        }}
      >
        {t('analytics.saved.rename')}
      </Button>
      <ConfirmButton
        variant="subtle"
        color="red"
        title={t('analytics.saved.deleteTitle')}
        body={t('analytics.saved.deleteBody', { name })}
        confirm={t('action.delete')}
        onConfirm={async () => {
          await call(
            api.DELETE('/api/v1/clinics/{clinicId}/analytics/dashboards/{dashboardId}', { params: { path: { clinicId, dashboardId } } }),
          );
          notifySaved(t('analytics.saved.deleted'));
          onDeleted();
          await refresh();
        }}
      >
        {t('analytics.saved.delete')}
      </ConfirmButton>
      <Modal opened={renaming} onClose={() => setRenaming(false)} title={t('analytics.saved.rename')}>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            rename.mutate();
          }}
        >
          <Stack>
            <TextInput
              label={t('analytics.saved.name')}
              value={newName}
              onChange={(e) => setNewName(e.currentTarget.value)}
              required
              data-autofocus
              error={rename.isError ? problemText(rename.error, t) : undefined}
            />
            <FormActions submit={t('action.save')} onCancel={() => setRenaming(false)} pending={rename.isPending} />
          </Stack>
        </form>
      </Modal>
    </>
  );
}
