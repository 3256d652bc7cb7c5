import { Group, NavLink, Paper, Select } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useMemo } from 'react';
import { Link, Navigate, useParams, useSearchParams } from 'react-router';
import { api, call } from '../api/client';
import { useClinic } from '../clinic/context';
import { useProviders } from '../clinic/data';
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
  const [params, setParams] = useSearchParams();
  const providerId = params.get('provider');
  const providers = useProviders();
  const adapter = useMemo(
    () => (providerId ? providerAdapter(clinicId, providerId, writable) : clinicAdapter(clinicId, writable)),
    [clinicId, providerId, writable],
  );
  if (catalogue.isPending) return <LoadingState />;
  if (catalogue.isError) return <ErrorState error={catalogue.error} onRetry={() => void catalogue.refetch()} />;
  const shown = catalogue.data.namespaces.filter((n) => n.available);
  if (shown.length === 0) return <EmptyState title={t('settings.none')} />;
  const current = shown.find((n) => n.name === namespace);
  if (!current) return <Navigate to={path(`admin/settings/${shown[0]!.name}`)} replace />;
  return (
    <>
      <PageHeader
        title={t('settings.title')}
        description={t('settings.lead')}
        actions={
          can('provider.read') &&
          (providers.data?.items.length ?? 0) > 0 && (
            <Select
              label={t('settings.layer')}
              w={280}
              allowDeselect={false}
              value={providerId ?? ''}
              onChange={(v) => setParams(v ? { provider: v } : {}, { replace: true })}
              data={[
                { value: '', label: t('settings.clinicLayer') },
                ...(providers.data?.items ?? []).map((p) => ({ value: p.id, label: p.displayName })),
              ]}
            />
          )
        }
      />
      <Group align="flex-start" gap="lg" wrap="nowrap">
        <Paper p="xs" w={220} style={{ flexShrink: 0 }} component="nav" aria-label={t('settings.namespaces')}>
          {shown.map((n) => (
            <NavLink
              key={n.name}
              component={Link}
              to={path(`admin/settings/${n.name}${providerId ? `?provider=${providerId}` : ''}`)}
              label={maybe(`settings.ns.${n.name}`) ?? humanize(n.name)}
              active={n.name === current.name}
              style={{ borderRadius: 6 }}
            />
          ))}
        </Paper>
        <div style={{ flex: 1, minWidth: 0 }}>
          <LayerEditor
            key={`${providerId ?? 'clinic'}/${current.name}`}
            adapter={adapter}
            name={current.name}
            schema={current.schema as JsonSchema}
          />
        </div>
      </Group>
    </>
  );
}

const effectiveOf = async (clinicId: string, ns: string, providerId?: string) => {
  const all = await call(
    api.GET('/api/v1/clinics/{clinicId}/settings/effective', { params: { path: { clinicId }, query: providerId ? { providerId } : {} } }),
  );
  return ((all as Record<string, Record<string, Explained>>)[ns] ?? {}) as Record<string, Explained>;
};

/** The clinic's own layer. */
function clinicAdapter(clinicId: string, writable: boolean): LayerAdapter {
  const path = (ns: string) => ({ params: { path: { clinicId, namespace: ns as Ns } } });
  return {
    scope: 'clinic',
    queryKey: [clinicId, 'settings', 'clinic'],
    writable,
    get: (ns) => call(api.GET('/api/v1/clinics/{clinicId}/settings/{namespace}', path(ns))),
    put: (ns, body) => call(api.PUT('/api/v1/clinics/{clinicId}/settings/{namespace}', { ...path(ns), body })),
    history: (ns) => call(api.GET('/api/v1/clinics/{clinicId}/settings/{namespace}/history', path(ns))),
    restore: (ns, body) => call(api.POST('/api/v1/clinics/{clinicId}/settings/{namespace}/restore', { ...path(ns), body })),
    validate: (ns, values) => call(api.POST('/api/v1/clinics/{clinicId}/settings/{namespace}/validate', { ...path(ns), body: { values } })),
    explain: (ns) => effectiveOf(clinicId, ns),
  };
}

/**
 * One provider's layer, under the clinic's: only the keys the clinic lets providers set are open (the others
 * show as set by the clinic), and every value says whether it is the provider's own or inherited.
 */
function providerAdapter(clinicId: string, providerId: string, writable: boolean): LayerAdapter {
  const path = (ns: string) => ({ params: { path: { clinicId, providerId, namespace: ns as Ns } } });
  return {
    scope: 'provider',
    queryKey: [clinicId, 'settings', 'provider', providerId],
    writable,
    get: async (ns) => {
      const [own, clinic] = await Promise.all([
        call(api.GET('/api/v1/clinics/{clinicId}/providers/{providerId}/settings/{namespace}', path(ns))),
        call(api.GET('/api/v1/clinics/{clinicId}/settings/{namespace}', { params: { path: { clinicId, namespace: ns as Ns } } })),
      ]);
      const schemaKeys = Object.keys(await effectiveOf(clinicId, ns));
      return { ...own, locked: schemaKeys.filter((k) => !clinic.providerOverridable.includes(k)) };
    },
    put: (ns, body) =>
      call(
        api.PUT('/api/v1/clinics/{clinicId}/providers/{providerId}/settings/{namespace}', {
          ...path(ns),
          body: { values: body.values, expectedVersion: body.expectedVersion, reason: body.reason },
        }),
      ),
    history: (ns) => call(api.GET('/api/v1/clinics/{clinicId}/providers/{providerId}/settings/{namespace}/history', path(ns))),
    restore: (ns, body) =>
      call(api.POST('/api/v1/clinics/{clinicId}/providers/{providerId}/settings/{namespace}/restore', { ...path(ns), body })),
    validate: (ns, values) =>
      call(
        api.POST('/api/v1/clinics/{clinicId}/settings/{namespace}/validate', {
          params: { path: { clinicId, namespace: ns as Ns }, query: { providerId } },
          body: { values },
        }),
      ),
    explain: (ns) => effectiveOf(clinicId, ns, providerId),
  };
}
