import { MantineProvider } from '@mantine/core';
import { Notifications } from '@mantine/notifications';
import { QueryCache, QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { useMemo } from 'react';
import { BrowserRouter } from 'react-router';
import { ApiProblem } from '../api/client';
import { I18nProvider } from '../i18n/i18n';
import { useAppearance } from './appearance';
import { AppRoutes } from './routes';
import { clinicTheme, platformTheme } from './theme';

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      staleTime: 15_000,
      refetchOnWindowFocus: false,
      // A 4xx will not change by asking again; a dropped connection or a 503 (a clinic being moved) may.
      retry: (count, error) => count < 2 && (!(error instanceof ApiProblem) || error.status === 0 || error.status >= 500),
    },
  },
  queryCache: new QueryCache(),
});

export function App() {
  const { branding, languages } = useAppearance();
  const theme = useMemo(() => (branding ? clinicTheme(branding) : platformTheme()), [branding]);
  const policy = useMemo(() => ({ offered: languages?.offered, fallback: languages?.fallback }), [languages]);
  return (
    <I18nProvider policy={policy}>
      <MantineProvider theme={theme} defaultColorScheme="light">
        <Notifications position="top-right" />
        <QueryClientProvider client={queryClient}>
          <BrowserRouter>
            <AppRoutes />
          </BrowserRouter>
        </QueryClientProvider>
      </MantineProvider>
    </I18nProvider>
  );
}

export { queryClient };
