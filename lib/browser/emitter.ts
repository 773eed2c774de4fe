/** A minimal typed event emitter for the browser build (node:events is not there). */
type Listener = (...args: unknown[]) => void;

export class Emitter<E extends Record<string, unknown[]>> {
  private readonly handlers = new Map<keyof E, Array<Listener>>();

  on<K extends keyof E>(name: K, fn: (...args: E[K]) => void): this {
    let list = this.handlers.get(name);
    if (!list) this.handlers.set(name, (list = []));
    list.push(fn as unknown as Listener);
    return this;
  }

  off<K extends keyof E>(name: K, fn: (...args: E[K]) => void): this {
    const list = this.handlers.get(name);
    if (list) {
      const i = list.indexOf(fn as unknown as Listener);
      if (i >= 0) list.splice(i, 1);
    }
    return this;
  }

  once<K extends keyof E>(name: K, fn: (...args: E[K]) => void): this {
    const wrap = (...args: E[K]): void => {
      this.off(name, wrap);
      fn(...args);
    };
    return this.on(name, wrap);
  }

  protected emit<K extends keyof E>(name: K, ...args: E[K]): void {
    const list = this.handlers.get(name);
    if (!list) return;
    for (const fn of [...list]) (fn as unknown as (...a: E[K]) => void)(...args);
  }
}
