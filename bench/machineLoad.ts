// What else the machine did while a bench ran, from /proc (Linux): on a shared 2-core machine, one busy core
// elsewhere turns onnxruntime's two threads into one core's worth of work — its kernels (MLAS GEMM, NCHWc
// conv, flash attention) split each op into one fixed part per thread, so the op waits for the descheduled
// thread. Measured on SD1.5 512² fp32: 3.5–4.2 s with the machine quiet, 6.4–7.7 s (CPU time ≈ wall time)
// while another process kept one core busy. A timing is comparable only when `othersS` is near 0.
import { readFileSync, readdirSync } from 'node:fs';

const TICKS_PER_S = 100; // USER_HZ: /proc times are in 1/100 s

export interface CpuShare {
  /** CPU seconds of each of this process's threads that ran ≥ 0.05 s, largest first. */
  threadsS: number[];
  /** CPU seconds other processes used meanwhile (all cores). */
  othersS: number;
  /** Seconds the hypervisor gave this machine's CPUs to other guests. */
  stealS: number;
}

function threadTicks(): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    const f = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1].split(' ');
    out.set(tid, Number(f[11]) + Number(f[12])); // utime + stime (fields 14, 15)
  }
  return out;
}

function machineTicks(): { busy: number; steal: number } {
  const [user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return { busy: user + nice + system + irq + softirq, steal };
}

/** Starts counting; the returned function tells how the CPU was shared since. Undefined where /proc is missing. */
export function startCpuShare(): (() => CpuShare) | undefined {
  try {
    const [t0, m0] = [threadTicks(), machineTicks()];
    return () => {
      const [t1, m1] = [threadTicks(), machineTicks()];
      const threadsS = [...t1].map(([tid, v]) => (v - (t0.get(tid) ?? 0)) / TICKS_PER_S).filter((s) => s >= 0.05).sort((a, b) => b - a);
      const mine = [...t1].reduce((sum, [tid, v]) => sum + v - (t0.get(tid) ?? 0), 0) / TICKS_PER_S;
      return { threadsS, othersS: Math.max(0, (m1.busy - m0.busy) / TICKS_PER_S - mine), stealS: (m1.steal - m0.steal) / TICKS_PER_S };
    };
  } catch {
    return undefined;
  }
}

export const formatCpuShare = (s: CpuShare | undefined): string =>
  s ? `threads ${s.threadsS.map((t) => t.toFixed(2)).join('+') || '0'} s, other processes ${s.othersS.toFixed(2)} s, steal ${s.stealS.toFixed(2)} s` : 'CPU share unknown';
