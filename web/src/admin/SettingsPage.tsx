import { Group, NavLink, Paper } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useMemo } from 'react';
import { Link, Navigate, useParams } from 'react-router';
import { api, call } from '../api/client';
import { useClinic } from '../clinic/context';
import { useI18n } from '../i18n/i18n';
import { LayerEditor, type Explained, type LayerAdapter } from '../settings/LayerEditor';
import { humanize, type JsonSchema } from '../settings/SchemaField';
import { PageHeader } from '../ui/page';
import { EmptyState, ErrorState, LoadingState } from '../ui/states';

type Ns = never;

/**
 * The clinic's settings, one page per namespace, generated from the namespaces' schemas; a namespace shows
 * only when its feature is on for this clinic. Values come with the layer they come from.
 */
export default function SettingsPage() {
  const { t, maybe } = useI18n();
  const { namespace } = useParams();
  const { clinicId, path, can } = useClinic();
  const catalogue = useQuery({
    queryKey: [clinicId, 'settings', 'catalogue'],
    queryFn: () => call(api.GET('/api/v1/clinics/{clinicId}/settings', { params: { path: { clinicId } } })),
  });
  const writable = can('settings.write');
  const adapter = useMemo<LayerAdapter>(
    () => ({
      scope: 'clinic',
      queryKey: [clinicId, 'settings'],
      writable,
      get: (ns) =>
        call(api.GET('/api/v1/clinics/{clinicId}/settings/{namespace}', { params: { path: { clinicId, namespace: ns as Ns } } })),
      put: (ns, body) =>
        call(api.PUT('/api/v1/clinics/{clinicId}/settings/{namespace}', { params: { path: { clinicId, namespace: ns as Ns } }, body })),
      history: (ns) =>
        call(api.GET('/api/v1/clinics/{clinicId}/settings/{namespace}/history', { params: { path: { clinicId, namespace: ns as Ns } } })),
      restore: (ns, body) =>
        call(
          api.POST('/api/v1/clinics/{clinicId}/settings/{namespace}/restore', {
            params: { path: { clinicId, namespace: ns as Ns } },
            body,
          }),
        ),
      validate: (ns, values) =>
        call(
          api.POST('/api/v1/clinics/{clinicId}/settings/{namespace}/validate', {
            params: { path: { clinicId, namespace: ns as Ns } },
            body: { values },
          }),
        ),
      explain: async (ns) => {
        const all = await call(api.GET('/api/v1/clinics/{clinicId}/settings/effective', { params: { path: { clinicId }, query: {} } }));
        return ((all as Record<string, Record<string, Explained>>)[ns] ?? {}) as Record<string, Explained>;
      },
    }),
    [clinicId, writable],
  );
  if (catalogue.isPending) return <LoadingState />;
  if (catalogue.isError) return <ErrorState error={catalogue.error} onRetry={() => void catalogue.refetch()} />;
  const shown = catalogue.data.namespaces.filter((n) => n.available);
  if (shown.length === 0) return <EmptyState title={t('settings.none')} />;
  const current = shown.find((n) => n.name === namespace);
  if (!current) return <Navigate to={path(`admin/settings/${shown[0]!.name}`)} replace />;
  return (
    <>
      <PageHeader title={t('settings.title')} description={t('settings.lead')} />
      <Group align="flex-start" gap="lg" wrap="nowrap">
        <Paper p="xs" w={220} style={{ flexShrink: 0 }} component="nav" aria-label={t('settings.namespaces')}>
          {shown.map((n) => (
            <NavLink
              key={n.name}
              component={Link}
              to={path(`admin/settings/${n.name}`)}
              label={maybe(`settings.ns.${n.name}`) ?? humanize(n.name)}
              active={n.name === current.name}
              style={{ borderRadius: 6 }}
            />
          ))}
        </Paper>
        <div style={{ flex: 1, minWidth: 0 }}>
          <LayerEditor key={current.name} adapter={adapter} name={current.name} schema={current.schema as JsonSchema} />
        </div>
      </Group>
    </>
  );
}
