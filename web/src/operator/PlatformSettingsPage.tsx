import { Group, NavLink, Paper, SegmentedControl, Stack } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useMemo } from 'react';
import { Link, Navigate, useNavigate, useParams } from 'react-router';
import { api, call } from '../api/client';
import { useI18n } from '../i18n/i18n';
import { LayerEditor, type Explained, type LayerAdapter, type LayerDoc } from '../settings/LayerEditor';
import { humanize, type JsonSchema } from '../settings/SchemaField';
import { PageHeader } from '../ui/page';
import { ErrorState, LoadingState } from '../ui/states';
import { useRegions } from './data';

type Ns = never;

/**
 * The platform's and each region's settings layers, edited like a clinic's: each value shows whether it is the
 * code default or set here (or, for a region, inherited from the platform).
 */
export default function PlatformSettingsPage() {
  const { t, maybe } = useI18n();
  const { scope = 'platform', namespace } = useParams();
  const navigate = useNavigate();
  const regions = useRegions();
  const catalogue = useQuery({ queryKey: ['ops', 'settings', 'catalogue'], queryFn: () => call(api.GET('/api/v1/platform/settings')) });
  const regionId = scope === 'platform' ? null : scope;
  const adapter = useMemo<LayerAdapter>(() => {
    const platformLayer = (ns: string) =>
      call(api.GET('/api/v1/platform/settings/{namespace}', { params: { path: { namespace: ns as Ns } } })) as Promise<LayerDoc>;
    if (!regionId)
      return {
        scope: 'platform',
        queryKey: ['ops', 'settings', 'platform'],
        writable: true,
        get: platformLayer,
        put: (ns, body) => call(api.PUT('/api/v1/platform/settings/{namespace}', { params: { path: { namespace: ns as Ns } }, body })),
        history: (ns) => call(api.GET('/api/v1/platform/settings/{namespace}/history', { params: { path: { namespace: ns as Ns } } })),
        restore: (ns, body) =>
          call(api.POST('/api/v1/platform/settings/{namespace}/restore', { params: { path: { namespace: ns as Ns } }, body })),
        validate: (ns, values) =>
          call(api.POST('/api/v1/platform/settings/{namespace}/validate', { params: { path: { namespace: ns as Ns } }, body: { values } })),
        explain: async (ns) => explain(ns, [['platform', await platformLayer(ns)]]),
      };
    const path = { regionId, namespace: '' as Ns };
    const regionLayer = (ns: string) =>
      call(
        api.GET('/api/v1/platform/regions/{regionId}/settings/{namespace}', { params: { path: { ...path, namespace: ns as Ns } } }),
      ) as Promise<LayerDoc>;
    return {
      scope: 'region',
      queryKey: ['ops', 'settings', 'region', regionId],
      writable: true,
      get: regionLayer,
      put: (ns, body) =>
        call(
          api.PUT('/api/v1/platform/regions/{regionId}/settings/{namespace}', { params: { path: { ...path, namespace: ns as Ns } }, body }),
        ),
      history: (ns) =>
        call(
          api.GET('/api/v1/platform/regions/{regionId}/settings/{namespace}/history', {
            params: { path: { ...path, namespace: ns as Ns } },
          }),
        ),
      restore: (ns, body) =>
        call(
          api.POST('/api/v1/platform/regions/{regionId}/settings/{namespace}/restore', {
            params: { path: { ...path, namespace: ns as Ns } },
            body,
          }),
        ),
      validate: (ns, values) =>
        call(
          api.POST('/api/v1/platform/regions/{regionId}/settings/{namespace}/validate', {
            params: { path: { ...path, namespace: ns as Ns } },
            body: { values },
          }),
        ),
      explain: async (ns) =>
        explain(ns, [
          ['platform', await platformLayer(ns)],
          ['region', await regionLayer(ns)],
        ]),
    };

    /** Where each key comes from at this layer: the nearest layer above that sets it, else the code default. */
    async function explain(ns: string, chain: [string, LayerDoc][]): Promise<Record<string, Explained>> {
      const entry = catalogue.data?.namespaces.find((n) => n.name === ns);
      const props = ((entry?.schema as JsonSchema | undefined)?.properties ?? {}) as Record<string, JsonSchema>;
      const out: Record<string, Explained> = {};
      for (const [key, sub] of Object.entries(props)) {
        const setters = chain.filter(([, doc]) => key in doc.values);
        const last = setters.at(-1);
        out[key] = last
          ? { value: last[1].values[key], source: last[0], overrides: ['default', ...setters.slice(0, -1).map(([s]) => s)] }
          : { value: sub.default, source: 'default', overrides: [] };
      }
      return out;
    }
  }, [regionId, catalogue.data]);

  if (catalogue.isPending) return <LoadingState />;
  if (catalogue.isError) return <ErrorState error={catalogue.error} onRetry={() => void catalogue.refetch()} />;
  const names = catalogue.data.namespaces.map((n) => n.name);
  const current = catalogue.data.namespaces.find((n) => n.name === namespace);
  if (!current) return <Navigate to={`/operator/settings/${scope}/${names[0]}`} replace />;
  return (
    <>
      <PageHeader title={t('ops.settings.title')} description={t('ops.settings.lead')} />
      <SegmentedControl
        mb="md"
        value={scope}
        onChange={(s) => navigate(`/operator/settings/${s}/${current.name}`)}
        data={[
          { value: 'platform', label: t('source.platform') },
          ...(regions.data?.items ?? []).map((r) => ({ value: r.id, label: `${t('source.region')}: ${r.id}` })),
        ]}
        aria-label={t('ops.settings.layer')}
      />
      <Group align="flex-start" gap="lg" wrap="nowrap">
        <Paper p="xs" w={220} style={{ flexShrink: 0 }} component="nav" aria-label={t('settings.namespaces')}>
          <Stack gap={0}>
            {names.map((n) => (
              <NavLink
                key={n}
                component={Link}
                to={`/operator/settings/${scope}/${n}`}
                label={maybe(`settings.ns.${n}`) ?? humanize(n)}
                active={n === current.name}
                style={{ borderRadius: 6 }}
              />
            ))}
          </Stack>
        </Paper>
        <div style={{ flex: 1, minWidth: 0 }}>
          <LayerEditor key={`${scope}/${current.name}`} adapter={adapter} name={current.name} schema={current.schema as JsonSchema} />
        </div>
      </Group>
    </>
  );
}
