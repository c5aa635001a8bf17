// One request's `Tracking`, the object Next code receives: the scope's methods, bound.
import type { RequestScope } from '../../src/request-scope.js';
import type { Tracking } from './types.js';

/** `commit` runs after each change, for contexts that write as they go (Server Actions). */
export function trackingFor(scope: RequestScope, commit: () => void = () => undefined): Tracking {
  const people = scope.people;
  return {
    track: scope.track,
    identify: (userId) => {
      const linked = scope.identify(userId);
      commit();
      return linked;
    },
    reset: () => {
      scope.reset();
      commit();
    },
    get deviceId() {
      return scope.deviceId;
    },
    get userId() {
      return scope.userId;
    },
    people: {
      set: (properties) => (people.set(properties), commit()),
      setOnce: (properties) => (people.setOnce(properties), commit()),
      increment: (properties) => (people.increment(properties), commit()),
      append: (properties) => (people.append(properties), commit()),
      union: (properties) => (people.union(properties), commit()),
      unset: (names) => (people.unset(names), commit()),
    },
    register: scope.register,
  };
}
