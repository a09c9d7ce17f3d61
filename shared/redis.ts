/** Redis connections by role. */
import { Redis } from 'ioredis';

/**
 * For BullMQ workers and anything that may block: commands wait for a reconnect instead of
 * failing. `name` is what CLIENT LIST shows for it.
 */
export function blockingConnection(url: string, name?: string): Redis {
  return prepared(new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, ...(name ? { connectionName: name } : {}) }));
}

/** For producers answering callers: fail fast while Redis is away instead of queueing commands. */
export function producerConnection(url: string): Redis {
  return prepared(new Redis(url, { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 5_000 }));
}

function prepared(redis: Redis): Redis {
  // While Redis is away ioredis emits an error per reconnect attempt; without a listener it
  // prints each one. The failures reach callers through the commands that fail, and the worker
  // logs BullMQ's own error events, so the connection-level events are not printed again.
  redis.on('error', () => {});
  redis.on('connect', () => coalesceWrites(redis.stream));
  return redis;
}

type Socket = Redis['stream'];

/**
 * ioredis writes every command to the socket on its own: one syscall per command, and on a
 * loopback or local network each write also runs the receiving side's TCP path. With a thousand
 * jobs in flight a worker sends thousands of commands a second, and those writes were about 14%
 * of its CPU. Here the writes made while the event loop handles one round of I/O are held
 * (cork) and leave together in the check phase of the same round (setImmediate), as one writev.
 * The commands, their order and their replies are unchanged, unlike ioredis's auto-pipelining,
 * which BullMQ does not support; only the number of syscalls that carry them is.
 * Each new socket (a reconnect makes one) is set up again.
 */
function coalesceWrites(socket: Socket): void {
  let held = false;
  const release = (): void => {
    held = false;
    socket.uncork();
  };
  const write = socket.write;
  socket.write = function (this: Socket, ...args: Parameters<Socket['write']>): boolean {
    if (!held && !socket.destroyed) {
      held = true;
      socket.cork();
      setImmediate(release);
    }
    return Reflect.apply(write, this, args) as boolean;
  } as Socket['write'];
}
