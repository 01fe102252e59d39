/**
 * Container log buffers, kept per pod/container for the current and the
 * previous (last terminated) container instance, with live followers for
 * `follow=true` requests.
 */
import { rfc3339Nano } from './util.ts';

export interface LogLine {
  time: Date;
  text: string;
}

export interface LogFollower {
  timestamps: boolean;
  write(chunk: string): void;
  end(): void;
}

interface ContainerLogs {
  current: LogLine[];
  previous: LogLine[];
  followers: Set<LogFollower>;
}

export function formatLogLine(line: LogLine, timestamps: boolean): string {
  return `${timestamps ? `${rfc3339Nano(line.time)} ` : ''}${line.text}\n`;
}

export class LogStore {
  private readonly logs = new Map<string, ContainerLogs>();

  private entry(namespace: string, pod: string, container: string): ContainerLogs {
    const k = `${namespace}/${pod}/${container}`;
    let e = this.logs.get(k);
    if (!e) {
      e = { current: [], previous: [], followers: new Set() };
      this.logs.set(k, e);
    }
    return e;
  }

  append(namespace: string, pod: string, container: string, lines: readonly LogLine[], previous = false): void {
    const e = this.entry(namespace, pod, container);
    if (previous) {
      e.previous.push(...lines);
      return;
    }
    e.current.push(...lines);
    for (const f of e.followers) for (const line of lines) f.write(formatLogLine(line, f.timestamps));
  }

  /** Replaces the previous-instance buffer (a container that crashed produced these lines). */
  setPrevious(namespace: string, pod: string, container: string, lines: readonly LogLine[]): void {
    this.entry(namespace, pod, container).previous = [...lines];
  }

  read(namespace: string, pod: string, container: string, which: 'current' | 'previous'): LogLine[] {
    const e = this.logs.get(`${namespace}/${pod}/${container}`);
    return e ? [...e[which]] : [];
  }

  /** Registers a follower; returns the function that unregisters it. */
  follow(namespace: string, pod: string, container: string, follower: LogFollower): () => void {
    const e = this.entry(namespace, pod, container);
    e.followers.add(follower);
    return () => e.followers.delete(follower);
  }

  /** Ends every follow stream of a pod (or of one of its containers). */
  endStreams(namespace: string, pod: string, container?: string): number {
    let ended = 0;
    for (const [k, e] of this.logs) {
      const [ns, p, c] = k.split('/');
      if (ns !== namespace || p !== pod || (container !== undefined && c !== container)) continue;
      for (const f of e.followers) {
        f.end();
        ended++;
      }
      e.followers.clear();
    }
    return ended;
  }

  removePod(namespace: string, pod: string): void {
    this.endStreams(namespace, pod);
    for (const k of [...this.logs.keys()]) if (k.startsWith(`${namespace}/${pod}/`)) this.logs.delete(k);
  }

  closeAll(): void {
    for (const e of this.logs.values()) {
      for (const f of e.followers) f.end();
      e.followers.clear();
    }
  }
}
