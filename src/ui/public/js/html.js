// Preact with htm: components are plain functions, templates are tagged template literals
// (no JSX, so no build step). Preact renders every interpolated string as a text node:
// tenant-supplied strings can never become markup. Nothing here uses innerHTML.
import { h, render, Fragment } from '../vendor/preact.js';
import htm from '../vendor/htm.js';

export const html = htm.bind(h);
export { render, Fragment };
export { useCallback, useEffect, useMemo, useRef, useState } from '../vendor/hooks.js';
