/** Activities of the benchmarks: no work, so the numbers measure the orchestration. */
export async function noop(n: number): Promise<number> {
  return n;
}
