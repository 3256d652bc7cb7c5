import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import '@mantine/core/styles.css';
import '@mantine/notifications/styles.css';
import './app/app.css';
import { App, screenCode } from './app/App';

// The first render waits up to half a second for the screen's code, which the warm-up asked for alongside its data:
// rendering before it arrives would show a loading state for a moment, and React then holds the screen back until
// 300 ms after that loading state appeared. On a slow connection the loading state shows after half a second.
void Promise.race([screenCode, new Promise((resolve) => setTimeout(resolve, 500))]).then(() =>
  createRoot(document.getElementById('root')!).render(
    <StrictMode>
      <App />
    </StrictMode>,
  ),
);
