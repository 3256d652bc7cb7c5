import { createElement, lazy, Suspense, type ComponentType } from 'react';
import { renderToString } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { screen } from './screens';

const Here = () => createElement('p', null, 'the screen');
const shown = (component: ComponentType) => renderToString(createElement(Suspense, { fallback: 'loading' }, createElement(component)));

describe('screen(): a lazily loaded screen that renders at once once its code is here', () => {
  it('renders without a loading state when its code was loaded before the first render, where React.lazy suspends', async () => {
    const load = async () => ({ default: Here });
    const plain = lazy(load);
    await load(); // what the warm-up does for React.lazy: the module is here, yet React has not seen it arrive
    expect(shown(plain)).toContain('loading');

    const Screen = screen(load);
    expect(shown(Screen)).toContain('loading'); // nothing asked for yet: it suspends like React.lazy
    await Screen.preload();
    expect(shown(Screen)).toBe('<!--$--><p>the screen</p><!--/$-->'); // the screen itself, no fallback
  });

  it('loads its code once, and asks again after a failed load', async () => {
    let calls = 0;
    const Screen = screen(async () => {
      calls++;
      if (calls === 1) throw new Error('chunk failed to load');
      return { default: Here };
    });
    await expect(Screen.preload()).rejects.toThrow('chunk failed to load');
    await Screen.preload();
    await Screen.preload();
    expect(calls).toBe(2);
    expect(shown(Screen)).toBe('<!--$--><p>the screen</p><!--/$-->'); // the screen itself, no fallback
  });
});
