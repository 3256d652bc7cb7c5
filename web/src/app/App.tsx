import { MantineProvider } from '@mantine/core';
import { Notifications } from '@mantine/notifications';
import { QueryCache, QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { useMemo } from 'react';
import { BrowserRouter } from 'react-router';
import { ApiProblem } from '../api/client';
import { I18nProvider, useI18n } from '../i18n/i18n';
import { useAppearance } from './appearance';
import { AppRoutes } from './routes';
import { warmUp } from './warm-up';
import { clinicTheme, cssVariables, platformTheme, PLATFORM_PRIMARY } from './theme';

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

/** The screen's code, asked for before the first render (`main.tsx` waits a little for it). */
export const screenCode = warmUp(queryClient, window.location.pathname);

export function App() {
  const { languages } = useAppearance();
  const policy = useMemo(() => ({ offered: languages?.offered, fallback: languages?.fallback }), [languages]);
  return (
    <I18nProvider policy={policy}>
      <Themed />
    </I18nProvider>
  );
}

/** The theme follows the screen's look (a clinic's or the platform's) and speaks the viewer's language. */
function Themed() {
  const { branding } = useAppearance();
  const { t } = useI18n();
  const close = t('action.close');
  const theme = useMemo(() => (branding ? clinicTheme(branding, close) : platformTheme(close)), [branding, close]);
  const variables = useMemo(() => cssVariables(branding?.primaryColor ?? PLATFORM_PRIMARY), [branding]);
  return (
    <MantineProvider theme={theme} cssVariablesResolver={variables} defaultColorScheme="light">
      <Notifications position="top-right" />
      <QueryClientProvider client={queryClient}>
        <BrowserRouter>
          <AppRoutes />
        </BrowserRouter>
      </QueryClientProvider>
    </MantineProvider>
  );
}

export { queryClient };
