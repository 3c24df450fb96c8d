/*
 * src/kernels/: Float32Array math behind one `Kernels` interface (types.ts): the
 * portable TypeScript reference (js.ts), the native SIMD addon with run-time ISA
 * dispatch (native.ts, native/), and the choice between them (this file).
 * May import: util.
 */
/**
 * Picks the kernel implementation for this process (or worker thread):
 * - env MULTITASK_KERNELS=js | native forces one (native forced but unavailable: throws);
 * - otherwise the native addon if it loads, else the TypeScript kernels, with a one-line
 *   notice in kernelNotice() for the CLI to print (the library itself prints nothing).
 * env MULTITASK_ISA=avx512 | avx2 | scalar picks the native instruction set (see native.ts).
 */
import { jsKernels } from './js.js';
import { createNativeKernels, loadNativeKernels, NATIVE_ISAS, nativeIsas, nativeLoadError } from './native.js';
import type { Kernels } from './types.js';

export * from './types.js';
export { jsKernels } from './js.js';
export { createNativeKernels, loadNativeKernels, nativeIsas, nativeLoadError } from './native.js';

export interface KernelInfo {
  backend: 'js' | 'native';
  /** 'avx512' | 'avx2' | 'scalar' for native, 'js' for the TypeScript kernels. */
  isa: string;
  /** Why the TypeScript kernels are in use, when they are. */
  reason?: string;
}

interface Choice {
  kernels: Kernels;
  reason?: string;
  notice?: string;
}

let choice: Choice | undefined;

function choose(): Choice {
  const forced = process.env.MULTITASK_KERNELS;
  if (forced === 'js') return { kernels: jsKernels, reason: 'MULTITASK_KERNELS=js' };
  if (forced !== undefined && forced !== '' && forced !== 'native') {
    throw new Error(`MULTITASK_KERNELS must be 'js' or 'native', got '${forced}'`);
  }
  const native = loadNativeKernels();
  if (native) return { kernels: native };
  const reason = nativeLoadError() ?? 'unknown reason';
  if (forced === 'native') {
    throw new Error(`MULTITASK_KERNELS=native, but the native kernels cannot be used: ${reason}`);
  }
  return {
    kernels: jsKernels,
    reason,
    notice: `multitask: native kernels unavailable (${reason}); using the TypeScript kernels`,
  };
}

/** The kernels for this thread, chosen once. */
export function getKernels(): Kernels {
  choice ??= choose();
  return choice.kernels;
}

/** A one-line notice when the native kernels could not be used (undefined otherwise). */
export function kernelNotice(): string | undefined {
  getKernels();
  return choice?.notice;
}

/** A kernel implementation by name: the TypeScript kernels, or the native ones with an instruction set. */
export interface KernelChoice {
  backend: 'js' | 'native';
  /** 'js' for the TypeScript kernels, else the native instruction set (avx512, avx2, scalar) */
  isa: string;
}

/** The kernels `choice` names (getKernels() without one); an Error saying why when this machine cannot run them. */
export function kernelsFor(choice?: KernelChoice): Kernels {
  if (!choice) return getKernels();
  if (choice.backend === 'js') return jsKernels;
  return createNativeKernels(choice.isa);
}

/**
 * Every kernel implementation this machine can run, fastest first: the native
 * instruction sets the CPU supports (unless MULTITASK_KERNELS=js), then the
 * TypeScript kernels. What a cluster worker offers (`multitask info`).
 */
export function supportedKernels(): KernelChoice[] {
  const native = process.env.MULTITASK_KERNELS === 'js' ? [] : nativeIsas().filter((i) => (NATIVE_ISAS as readonly string[]).includes(i));
  return [...native.map((isa): KernelChoice => ({ backend: 'native', isa })), { backend: 'js', isa: 'js' }];
}

/** Which implementation getKernels() returns, and why when it is the fallback. */
export function kernelInfo(): KernelInfo {
  const k = getKernels();
  const info: KernelInfo = { backend: k.backend, isa: k.isa };
  if (choice?.reason !== undefined) info.reason = choice.reason;
  return info;
}
