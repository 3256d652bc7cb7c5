import { AppShell, Badge, Burger, Group, NavLink, Stack, Text } from '@mantine/core';
import { DatesProvider } from '@mantine/dates';
import '@mantine/dates/styles.css';
import { useDisclosure } from '@mantine/hooks';
import '../i18n/dates';
import { lazy, Suspense } from 'react';
import { Navigate, NavLink as RouterLink, Route, Routes, useLocation } from 'react-router';
import { useMe } from '../auth/me';
import { NotFoundPage } from '../app/NotFoundPage';
import { firstDayOfWeek } from '../i18n/calendar';
import { useI18n, type MessageKey } from '../i18n/i18n';
import { BrandMark } from '../ui/brand';
import { ErrorState, LoadingState } from '../ui/states';
import { UserMenu } from '../ui/UserMenu';

const FleetPage = lazy(() => import('./FleetPage'));
const ClinicPage = lazy(() => import('./ClinicPage'));
const FlagsPage = lazy(() => import('./FlagsPage'));
const FlagPage = lazy(() => import('./FlagPage'));
const PlatformSettingsPage = lazy(() => import('./PlatformSettingsPage'));
const RegionsPage = lazy(() => import('./RegionsPage'));
const RolloutsPage = lazy(() => import('./RolloutsPage'));
const PlatformMetricsPage = lazy(() => import('../analytics/PlatformMetricsPage'));

const NAV: { to: string; label: MessageKey }[] = [
  { to: '/operator/clinics', label: 'ops.nav.fleet' },
  { to: '/operator/flags', label: 'ops.nav.flags' },
  { to: '/operator/settings', label: 'ops.nav.settings' },
  { to: '/operator/regions', label: 'ops.nav.regions' },
  { to: '/operator/rollouts', label: 'ops.nav.rollouts' },
  { to: '/operator/metrics', label: 'ops.nav.metrics' },
];

/** The operator console: the fleet, flags, platform and region settings, regions. It keeps the platform's own look and never shows a patient. */
export default function OperatorLayout() {
  const { t, lang, locale } = useI18n();
  const me = useMe();
  const [opened, { toggle, close }] = useDisclosure();
  const location = useLocation();
  if (me.isPending) return <LoadingState />;
  if (me.isError) return <ErrorState error={me.error} onRetry={() => void me.refetch()} />;
  if (!me.data.user.isOperator) return <NotFoundPage />;
  return (
    <DatesProvider settings={{ locale: lang, firstDayOfWeek: firstDayOfWeek(locale) }}>
      <a href="#main" className="pc-skip-link">
        {t('nav.skip')}
      </a>
      <AppShell header={{ height: 60 }} navbar={{ width: 240, breakpoint: 'sm', collapsed: { mobile: !opened } }} padding="lg">
        <AppShell.Header>
          <Group h="100%" px="md" justify="space-between">
            <Group gap="sm">
              <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" aria-label={t('nav.toggle')} />
              <BrandMark />
              <Badge variant="light" color="gray">
                {t('ops.console')}
              </Badge>
            </Group>
            <UserMenu />
          </Group>
        </AppShell.Header>
        <AppShell.Navbar p="sm" aria-label={t('nav.label')}>
          <Stack gap={2}>
            <Text size="xs" fw={700} c="dimmed" tt="uppercase" px="sm" mb={4}>
              {t('ops.console')}
            </Text>
            {NAV.map((n) => (
              <NavLink
                key={n.to}
                component={RouterLink}
                to={n.to}
                label={t(n.label)}
                active={location.pathname.startsWith(n.to)}
                onClick={close}
                style={{ borderRadius: 8 }}
              />
            ))}
          </Stack>
        </AppShell.Navbar>
        <AppShell.Main id="main">
          <Suspense fallback={<LoadingState />}>
            <Routes>
              <Route index element={<Navigate to="/operator/clinics" replace />} />
              <Route path="clinics" element={<FleetPage />} />
              <Route path="clinics/:clinicId" element={<ClinicPage />} />
              <Route path="flags" element={<FlagsPage />} />
              <Route path="flags/:name" element={<FlagPage />} />
              <Route path="settings" element={<PlatformSettingsPage />} />
              <Route path="settings/:scope/:namespace" element={<PlatformSettingsPage />} />
              <Route path="regions" element={<RegionsPage />} />
              <Route path="rollouts" element={<RolloutsPage />} />
              <Route path="metrics" element={<PlatformMetricsPage />} />
              <Route path="*" element={<NotFoundPage />} />
            </Routes>
          </Suspense>
        </AppShell.Main>
      </AppShell>
    </DatesProvider>
  );
}
