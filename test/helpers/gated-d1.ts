/**
 * A D1 binding that pauses one statement until the test lets it go. Used to
 * force an exact interleaving of two concurrent operations on the real
 * database, where the runtime would otherwise almost always serialise them.
 */
type AnyFunction = (...args: unknown[]) => unknown;

export interface Gate {
  d1: D1Database;
  /** Resolves when a matching statement is about to run (and is now paused). */
  reached: Promise<void>;
  release: () => void;
}

export function gatedD1(d1: D1Database, match: RegExp): Gate {
  let release = () => {};
  let reach = () => {};
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const reached = new Promise<void>((resolve) => {
    reach = resolve;
  });
  let used = false;

  const wrap = <T extends object>(statement: T, gated: boolean): T =>
    new Proxy(statement, {
      get(target, property) {
        const value = Reflect.get(target, property) as unknown;
        if (typeof value !== "function") return value;
        const method = value as AnyFunction;
        if (property === "bind") return (...args: unknown[]) => wrap(method.apply(target, args) as object, gated);
        return async (...args: unknown[]) => {
          if (gated && !used && ["run", "all", "raw", "first"].includes(String(property))) {
            used = true;
            reach();
            await gate;
          }
          return method.apply(target, args);
        };
      },
    });

  const proxy = new Proxy(d1, {
    get(target, property) {
      const value = Reflect.get(target, property) as unknown;
      if (property === "prepare") return (sql: string) => wrap(target.prepare(sql), match.test(sql));
      return typeof value === "function" ? (value as AnyFunction).bind(target) : value;
    },
  });
  return { d1: proxy, reached, release };
}
