/**
 * The few DOM pieces the page uses, typed here: the project type-checks against Node's globals, not the DOM
 * library (which would let browser-only names slip into the Node code unnoticed).
 */
export interface El {
  textContent: string | null;
  className: string;
  hidden: boolean;
  disabled: boolean;
  value: string;
  readonly dataset: Record<string, string | undefined>;
  scrollTop: number;
  readonly scrollHeight: number;
  readonly clientHeight: number;
  readonly childElementCount: number;
  readonly firstElementChild: El | null;
  append(...nodes: Array<El | string>): void;
  replaceChildren(...nodes: Array<El | string>): void;
  remove(): void;
  focus(): void;
  addEventListener(type: string, fn: (ev: { preventDefault(): void }) => void): void;
}

interface Page {
  document: { getElementById(id: string): El | null; createElement(tag: string): El; title: string };
  location: { protocol: string; host: string; search: string };
}

export const page = globalThis as unknown as Page;

export function byId(id: string): El {
  const e = page.document.getElementById(id);
  if (e === null) throw new Error(`#${id} is missing from the page`);
  return e;
}

/** A new element; text goes in as text (textContent), never as markup. */
export function element(tag: string, className = '', text?: string): El {
  const e = page.document.createElement(tag);
  if (className !== '') e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}
