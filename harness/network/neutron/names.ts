import { rm } from 'node:fs/promises';
import { execa } from 'execa';
import { processAlive } from '../../util/process-alive.ts';

/**
 * Names of what the neutron backend creates on the host: network namespaces `cpn-<pid>-<n>-<role>`.
 * The owner's pid is in the name, so the leftovers of a run that was SIGKILLed (no teardown ran)
 * are recognisable and removed by the next run, like stale VM work dirs. Interfaces live inside
 * those namespaces, so parallel cells reuse the same interface names and the same addresses.
 */

const PREFIX = 'cpn';
export type NamespaceRole = 'seg' | 'dhcp' | 'rtr' | 'vm';

let counter = 0;
/** A fresh set of namespace names for one network of one cell. */
export function namespaceNames(): Record<NamespaceRole, string> {
  const base = `${PREFIX}-${process.pid}-${++counter}`;
  return { seg: `${base}-seg`, dhcp: `${base}-dhcp`, rtr: `${base}-rtr`, vm: `${base}-vm` };
}

/** The owner pid of one of our namespaces, or undefined for a namespace that is not ours. */
export function ownerOf(namespace: string): number | undefined {
  const m = new RegExp(`^${PREFIX}-(\\d+)-\\d+-(seg|dhcp|rtr|vm)$`).exec(namespace);
  return m ? Number(m[1]) : undefined;
}

export async function listNamespaces(): Promise<string[]> {
  const r = await execa('ip', ['netns', 'list'], { reject: false });
  return r.stdout.split('\n').map((l) => l.split(' ')[0]!).filter(Boolean);
}

/** Kills whatever still runs in a namespace (dnsmasq, haproxy, a relay), then deletes it. */
export async function removeNamespace(namespace: string): Promise<void> {
  const pids = (await execa('ip', ['netns', 'pids', namespace], { reject: false })).stdout.split('\n').filter(Boolean).map(Number);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  for (let i = 0; i < 50 && pids.some((p) => processAlive(p)); i++) await new Promise((r) => setTimeout(r, 20));
  await execa('ip', ['netns', 'delete', namespace], { reject: false });
  await rm(`/run/netns/${namespace}`, { force: true });
}

/** Removes the namespaces of runs whose owner is gone; returns their names. */
export async function sweepStaleNamespaces(): Promise<string[]> {
  const stale = (await listNamespaces()).filter((ns) => {
    const owner = ownerOf(ns);
    return owner !== undefined && owner !== process.pid && !processAlive(owner);
  });
  for (const ns of stale) await removeNamespace(ns);
  return stale;
}
