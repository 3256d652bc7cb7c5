import { Alert, Badge, Button, Card, Drawer, Group, Paper, Stack, Switch, Text, TextInput, Timeline, Title, Tooltip } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useMemo, useState } from 'react';
import { useI18n } from '../i18n/i18n';
import { notifySaved } from '../ui/forms';
import { EmptyState, ErrorState, LoadingState, problemText } from '../ui/states';
import { SchemaField, humanize, type JsonSchema } from './SchemaField';

export type Source = 'default' | 'platform' | 'region' | 'clinic' | 'provider';
const SOURCE_COLOR: Record<Source, string> = { default: 'gray', platform: 'indigo', region: 'cyan', clinic: 'brand', provider: 'grape' };

export interface LayerDoc {
  values: Record<string, unknown>;
  locked: string[];
  providerOverridable: string[];
  version: number;
}
export interface HistoryEntry {
  version: number;
  before: unknown;
  after: unknown;
  reason: string;
  restoredFrom: number | null;
  at: string;
}
export interface Explained {
  value: unknown;
  source: string;
  overrides: string[];
}

/** How one layer (platform, a region, a clinic) is read and written; the editor is the same for all of them. */
export interface LayerAdapter {
  scope: 'platform' | 'region' | 'clinic' | 'provider';
  queryKey: readonly unknown[];
  get(ns: string): Promise<LayerDoc>;
  put(
    ns: string,
    body: { values: Record<string, unknown>; providerOverridable?: string[]; expectedVersion: number; reason: string },
  ): Promise<unknown>;
  history(ns: string): Promise<{ items: HistoryEntry[] }>;
  restore(ns: string, body: { version: number; expectedVersion: number; reason: string }): Promise<unknown>;
  validate(ns: string, values: Record<string, unknown>): Promise<{ errors: { path: string; message: string }[] }>;
  /** What every key resolves to at this layer and where it comes from (before this layer's unsaved edits). */
  explain(ns: string): Promise<Record<string, Explained>>;
  writable: boolean;
}

/**
 * One namespace at one layer, generated from the namespace's schema: every key with its value, the layer it
 * comes from, and — where the person may write — override (set it at this layer), revert (inherit again),
 * the layer's history and restore. Values are checked by the API as they are typed, by its own rules.
 */
export function LayerEditor({ adapter, name, schema }: { adapter: LayerAdapter; name: string; schema: JsonSchema }) {
  const { t, maybe } = useI18n();
  const queryClient = useQueryClient();
  const { writable, scope } = adapter;
  const explained = useQuery({ queryKey: [...adapter.queryKey, 'explain', name], queryFn: () => adapter.explain(name) });
  const layer = useQuery({ queryKey: [...adapter.queryKey, 'layer', name], queryFn: () => adapter.get(name) });
  const [draft, setDraft] = useState<Record<string, unknown> | null>(null);
  // The clinic layer also says which keys its providers may set for themselves.
  const [overridable, setOverridable] = useState<string[]>([]);
  const [reason, setReason] = useState('');
  const [history, setHistory] = useState(false);
  useEffect(() => {
    if (layer.data) {
      setDraft(structuredClone(layer.data.values));
      setOverridable([...layer.data.providerOverridable]);
    }
  }, [layer.data]);

  const overridableChanged =
    layer.data !== undefined && [...overridable].sort().join() !== [...layer.data.providerOverridable].sort().join();
  const dirty = useMemo(
    () => draft !== null && layer.data !== undefined && (JSON.stringify(draft) !== JSON.stringify(layer.data.values) || overridableChanged),
    [draft, layer.data, overridableChanged],
  );
  const [debounced] = useDebouncedValue(draft, 350);
  const validation = useQuery({
    queryKey: [...adapter.queryKey, 'validate', name, debounced],
    queryFn: () => adapter.validate(name, debounced ?? {}),
    enabled: writable && dirty && debounced !== null,
    staleTime: Infinity,
  });
  const errors = useMemo(() => {
    const out: Record<string, string> = {};
    for (const e of validation.data?.errors ?? []) out[e.path.replace(new RegExp(`^${name}\\.`), '')] ??= e.message;
    return out;
  }, [validation.data, name]);
  const refresh = () => queryClient.invalidateQueries({ queryKey: adapter.queryKey });

  const save = useMutation({
    mutationFn: () =>
      adapter.put(name, {
        values: draft ?? {},
        ...(scope === 'clinic' ? { providerOverridable: overridable } : {}),
        expectedVersion: layer.data?.version ?? 0,
        reason,
      }),
    onSuccess: () => {
      setReason('');
      notifySaved(t('settings.saved'));
      void refresh();
      void queryClient.invalidateQueries({ queryKey: ['public-clinic'] });
    },
  });

  if (explained.isPending || layer.isPending || draft === null) return <LoadingState />;
  if (explained.isError || layer.isError)
    return <ErrorState error={explained.error ?? layer.error} onRetry={() => (void explained.refetch(), void layer.refetch())} />;
  const keys = Object.keys(schema.properties ?? {});
  const title = maybe(`settings.ns.${name}`) ?? humanize(name);
  return (
    <Stack gap="md" pb={dirty ? 112 : 0}>
      <Group justify="space-between">
        <Stack gap={2}>
          <Title order={2} size="h3">
            {title}
          </Title>
          <Text size="sm" c="dimmed">
            {maybe(`settings.ns.${name}.lead`) ?? ''}
          </Text>
        </Stack>
        <Button variant="default" onClick={() => setHistory(true)}>
          {t('settings.history')}
        </Button>
      </Group>
      {keys.map((key) => {
        const info = explained.data[key];
        const here = key in draft;
        const source = (here ? scope : (info?.source ?? 'default')) as Source;
        const sub = schema.properties![key]!;
        const label = maybe(`setting.${name}.${key}`) ?? sub.title ?? humanize(key);
        const description = maybe(`setting.${name}.${key}.hint`) ?? sub.description;
        const locked = layer.data.locked.includes(key);
        const nested: Record<string, string> = {};
        for (const [p, m] of Object.entries(errors)) if (p.startsWith(`${key}.`)) nested[p.slice(key.length + 1)] = m;
        const changed = here !== key in layer.data.values || JSON.stringify(draft[key]) !== JSON.stringify(layer.data.values[key]);
        return (
          <Card
            key={key}
            withBorder
            padding="md"
            data-testid={`setting-${key}`}
            style={changed ? { borderColor: 'var(--mantine-primary-color-filled)' } : undefined}
          >
            <Group justify="space-between" align="flex-start" mb="xs" wrap="nowrap">
              <Group gap="xs">
                <Text fw={600}>{label}</Text>
                <Tooltip label={t('settings.sourceHint', { source: t(`source.${source}`) })}>
                  <Badge variant={source === scope ? 'filled' : 'light'} color={SOURCE_COLOR[source]} data-testid={`source-${key}`}>
                    {t(`source.${source}`)}
                  </Badge>
                </Tooltip>
                {info && info.overrides.length > 0 && !here && source !== 'default' && (
                  <Text size="xs" c="dimmed">
                    {t('settings.overrides', { layers: info.overrides.map((o) => t(`source.${o as Source}`)).join(', ') })}
                  </Text>
                )}
                {changed && (
                  <Badge size="xs" variant="outline">
                    {t('settings.unsaved')}
                  </Badge>
                )}
              </Group>
              {writable &&
                (here ? (
                  <Button
                    size="compact-sm"
                    variant="subtle"
                    onClick={() => {
                      const { [key]: _, ...rest } = draft;
                      setDraft(rest);
                    }}
                  >
                    {t('settings.revert')}
                  </Button>
                ) : (
                  <Button
                    size="compact-sm"
                    variant="light"
                    disabled={locked}
                    onClick={() => setDraft({ ...draft, [key]: structuredClone(info?.value ?? sub.default ?? null) })}
                  >
                    {locked ? (scope === 'provider' ? t('settings.notForProviders') : t('settings.locked')) : t('settings.override')}
                  </Button>
                ))}
            </Group>
            <SchemaField
              schema={sub}
              label={label}
              description={description}
              value={here ? draft[key] : info?.value}
              onChange={(v) => setDraft({ ...draft, [key]: v })}
              error={errors[key]}
              errors={nested}
              disabled={!writable || !here}
              hideLabel
            />
            {scope === 'clinic' && writable && (
              <Switch
                mt="sm"
                size="xs"
                label={t('settings.providersMay')}
                checked={overridable.includes(key)}
                onChange={(e) => setOverridable(e.currentTarget.checked ? [...overridable, key] : overridable.filter((k) => k !== key))}
              />
            )}
          </Card>
        );
      })}
      {dirty && (
        <Paper p="md" shadow="md" pos="sticky" bottom={16} style={{ zIndex: 5 }} withBorder>
          <Stack gap="xs">
            {save.isError && (
              <Alert color="red" variant="light" role="alert">
                {problemText(save.error, t)}
              </Alert>
            )}
            <Group align="flex-end" wrap="nowrap">
              <TextInput
                label={t('settings.reason')}
                placeholder={t('settings.reasonPlaceholder')}
                value={reason}
                onChange={(e) => setReason(e.currentTarget.value)}
                style={{ flex: 1 }}
                required
              />
              <Button variant="default" onClick={() => setDraft(structuredClone(layer.data.values))}>
                {t('settings.discard')}
              </Button>
              <Button
                onClick={() => save.mutate()}
                loading={save.isPending}
                disabled={reason.trim().length < 3 || Object.keys(errors).length > 0}
              >
                {t('settings.save')}
              </Button>
            </Group>
          </Stack>
        </Paper>
      )}
      <Drawer opened={history} onClose={() => setHistory(false)} position="right" size="lg" title={t('settings.historyOf', { ns: title })}>
        {history && <History adapter={adapter} name={name} version={layer.data.version} />}
      </Drawer>
    </Stack>
  );
}

function History({ adapter, name, version }: { adapter: LayerAdapter; name: string; version: number }) {
  const { t, dateTime } = useI18n();
  const queryClient = useQueryClient();
  const history = useQuery({ queryKey: [...adapter.queryKey, 'history', name], queryFn: () => adapter.history(name) });
  const restore = useMutation({
    mutationFn: (v: number) =>
      adapter.restore(name, { version: v, expectedVersion: version, reason: t('settings.restoreReason', { version: v }) }),
    onSuccess: () => {
      notifySaved(t('settings.restored'));
      void queryClient.invalidateQueries({ queryKey: adapter.queryKey });
    },
  });
  if (history.isPending) return <LoadingState />;
  if (history.isError) return <ErrorState error={history.error} />;
  if (history.data.items.length === 0) return <EmptyState title={t('settings.noHistory')} />;
  return (
    <Stack>
      {restore.isError && (
        <Alert color="red" variant="light" role="alert">
          {problemText(restore.error, t)}
        </Alert>
      )}
      <Timeline active={0} bulletSize={16}>
        {history.data.items.map((h) => {
          const before = (h.before as { values?: Record<string, unknown> } | null)?.values ?? {};
          const after = (h.after as { values?: Record<string, unknown> } | null)?.values ?? {};
          const changed = [...new Set([...Object.keys(before), ...Object.keys(after)])].filter(
            (k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]),
          );
          return (
            <Timeline.Item key={h.version} title={t('settings.version', { version: h.version })}>
              <Text size="xs" c="dimmed">
                {dateTime(h.at)} · {h.reason}
                {h.restoredFrom ? ` · ${t('settings.restoredFrom', { version: h.restoredFrom })}` : ''}
              </Text>
              {changed.map((k) => (
                <Text size="sm" key={k} style={{ wordBreak: 'break-word' }}>
                  <b>{k}</b>: {k in before ? short(before[k]) : t('settings.inherited')} →{' '}
                  {k in after ? short(after[k]) : t('settings.inherited')}
                </Text>
              ))}
              {adapter.writable && h.version !== version && (
                <Button
                  size="compact-xs"
                  variant="subtle"
                  mt={4}
                  onClick={() => restore.mutate(h.version)}
                  loading={restore.isPending && restore.variables === h.version}
                >
                  {t('settings.restore')}
                </Button>
              )}
            </Timeline.Item>
          );
        })}
      </Timeline>
    </Stack>
  );
}

function short(v: unknown): string {
  const s = JSON.stringify(v);
  return s.length > 80 ? `${s.slice(0, 77)}…` : s;
}
