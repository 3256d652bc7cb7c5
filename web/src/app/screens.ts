import { type ComponentType, createElement, type FunctionComponent, lazy, useState } from 'react';

/** A screen whose code is loaded when first needed and that the warm-up can ask for before the first render. */
export interface Screen extends FunctionComponent {
  /** Starts loading the screen's code (once); resolves when it is here. */
  preload(): Promise<void>;
}

/**
 * Like `React.lazy`, except that a screen whose code has already arrived renders at once. `React.lazy` suspends on
 * the first render of every lazy component, even one whose module is loaded, and React then holds the suspended
 * screen back until 300 ms after the last loading state it showed (its fallback throttle, so that spinners do not
 * flash). A cold start of a clinic screen paid that once per level of layout: traced, the schedule appeared about
 * 350 ms after its code and data had arrived, the main thread idle in between. Ours only because React has no such
 * option.
 */
export function screen(load: () => Promise<{ default: ComponentType }>): Screen {
  let loaded: ComponentType | undefined;
  let pending: Promise<{ default: ComponentType }> | undefined;
  const fetchOnce = () =>
    (pending ??= load().then(
      (m) => {
        loaded = m.default;
        return m;
      },
      (error: unknown) => {
        pending = undefined; // a failed chunk (a new deployment, a dropped connection) is asked for again next time
        throw error;
      },
    ));
  const Lazy = lazy(fetchOnce);
  function LazyScreen() {
    // Chosen once per mount: switching from the lazy wrapper to the module's component would remount the screen.
    const [component] = useState<ComponentType>(() => loaded ?? Lazy);
    return createElement(component);
  }
  return Object.assign(LazyScreen, { preload: () => fetchOnce().then(() => undefined) });
}

// The screens the warm-up loads before the first render (`warm-up.ts`): defined here, in the entry, so that it can
// reach them before their layout's code has arrived.
export const ClinicLayout = screen(() => import('../clinic/ClinicLayout'));
export const SchedulePage = screen(() => import('../provider/SchedulePage'));
export const OperatorLayout = screen(() => import('../operator/OperatorLayout'));
